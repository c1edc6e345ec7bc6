// Package cloudformation is the CloudFormation discovery source: for each
// region, one snapshot of every live stack, the resources each manages, the
// references between them in the stack's template, and the imports between
// stacks through exports. The producer runs it as SOURCE=cloudformation.
//
// # The calls, per region
//
// sts:GetCallerIdentity (the account id), then cloudformation:DescribeStacks
// (every page; stacks in DELETE_COMPLETE are left out), then for each stack,
// at most awsapi.DefaultConcurrency at once: ListStackResources (every page) and,
// when the stack has a resource, GetTemplate with TemplateStage Processed
// (after transforms such as SAM). Last ListExports (every page) and
// ListImports for each export. ListImports' ValidationError "Export '<name>'
// is not imported by any stack." means no importer; any other failure of any
// call (access denied, throttling that outlasts the adaptive retryer, a
// template that does not parse or is larger than MaxTemplateBytes) fails the
// region's snapshot, with the operation, the stack and the error code
// named: an incomplete snapshot must never look complete, or the sweep
// would retire what it missed.
//
// # Vertices
//
// A stack: label CloudFormation_Stack, id its stack ARN, props name, status,
// and parent and root (stack ARNs) for a nested stack.
//
// A resource with a physical id (resources still being created and deleted
// ones are left out and counted in the log): label edgebatch.AWSLabel of its
// type ("AWS::Lambda::Function" is Lambda_Function), id its ARN, derived by
// awsarn.FromPhysicalID, so the AWS source, which names the same resource by
// the same function, meets it on the same vertex. An IAM role's ARN includes
// its path: it is taken from the template's Path (a literal, or a Ref to a
// parameter whose value DescribeStacks shows; "/" when there is none). The
// types whose ARN is derived (awsarn.DerivableTypes):
//
//	AWS::CloudFormation::Stack (a nested stack: the same vertex as the stack itself)
//	AWS::DynamoDB::Table
//	AWS::EC2::Instance
//	AWS::EC2::SecurityGroup
//	AWS::EC2::Subnet
//	AWS::EC2::VPC
//	AWS::ECS::Cluster
//	AWS::ECS::Service
//	AWS::ECS::TaskDefinition
//	AWS::EKS::Cluster
//	AWS::ElasticLoadBalancingV2::Listener
//	AWS::ElasticLoadBalancingV2::LoadBalancer
//	AWS::ElasticLoadBalancingV2::TargetGroup
//	AWS::Events::Rule
//	AWS::IAM::Role
//	AWS::Lambda::EventSourceMapping
//	AWS::Lambda::Function
//	AWS::Neptune::DBCluster
//	AWS::Neptune::DBInstance
//	AWS::RDS::DBCluster
//	AWS::RDS::DBInstance
//	AWS::S3::Bucket
//	AWS::SNS::Subscription
//	AWS::SNS::Topic
//	AWS::SQS::Queue
//	AWS::StepFunctions::StateMachine
//
// A resource of any other type (AWS::Logs::LogGroup, a custom resource, ...)
// is still a vertex, labelled from its type, with the id
// "cfn:<stack ARN>/<logical id>" (see UnderivedID) and props physical_id and
// logical_id. That id is stable for the stack's life and cannot collide with
// an ARN, which always starts with "arn:". It is not derived from the
// physical id even when that is an ARN: some types report another
// resource's ARN as theirs (a secret's target attachment reports the
// secret's), and two types on one id would be two labels on one vertex.
//
// # Edges
//
// contains: stack → each resource, prop logical_id; a parent stack → its
// nested stack (the parent's AWS::CloudFormation::Stack resource, whose
// physical id is the nested stack's ARN).
//
// depends_on: resource → resource of the same stack, one edge for each
// place in the template that names the other resource: a Ref (not to a
// parameter or a pseudo parameter such as AWS::Region), a Fn::GetAtt (long
// form, "Res.Attr" string or short form), a ${Res} or ${Res.Attr} in a
// Fn::Sub string (not ${!Literal}, not the Sub's own variables), or
// DependsOn (a string or a list). The props are the evidence: property, the
// path in the referencing resource's Properties ("Role",
// "VpcConfig.SubnetIds[0]", "Environment.Variables.TABLE"; "DependsOn" for
// DependsOn; inside an intrinsic's arguments the path is that of the
// property holding the intrinsic), and intrinsic ("Ref", "Fn::GetAtt",
// "Fn::Sub", "DependsOn"). The id is edgebatch.EdgeIDWithKey with the key
// "<intrinsic>@<property>" on every depends_on edge, even a lone one, so
// that an edge keeps its id when the template gains a second reference
// between the same pair.
//
// imports: importing stack → exporting stack, prop export (the export
// name), keyed by export name (one pair may share several exports).
// ListImports, which answers stack names mapped here to the stack ARNs
// DescribeStacks gave, is the source of truth; a literal Fn::ImportValue in
// a template makes sure its edge exists too and adds the prop referenced_by:
// the "<logical id>.<property>" places that import it, sorted and
// comma-separated.
//
// # Templates
//
// Templates are read as YAML (JSON is YAML) into yaml.Node and every
// short-form tag (!Ref, !GetAtt, !Sub, !ImportValue, !Join, !Split, !Select,
// !If, !Equals, !FindInMap, !Base64, !Cidr, !GetAZs, !Condition, ...) is
// turned into its long form. Decoding straight into Go values would drop
// the tags silently and with them every short-form reference.
//
// Not covered: references to another stack's resources through exports
// (only the stack-to-stack imports edge), Fn::ImportValue of a computed
// name (ListImports still reports the import), and resources of stacks in
// other regions (each region is its own snapshot).
package cloudformation
