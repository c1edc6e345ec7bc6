// Package cloudformation is the CloudFormation discovery source: every live
// stack, the resources it manages, the references between them in the
// stack's template, and the imports between stacks through exports. The
// producer runs it as SOURCE=cloudformation (full scans, Discover) and in
// `producer listen` (one stack when a change event names it, DiscoverStack).
//
// # Snapshots and scopes
//
// Every snapshot is one stack's: scope
// "cloudformation/<account>/<region>/<stack name>/<stack uuid>" (StackScope,
// from the stack ARN), id "<scope>/<observed, RFC 3339 UTC>". A full scan
// returns one per live stack of each region; a change event of one stack
// rediscovers that stack alone, as a snapshot of the same scope, whose sweep
// touches nothing of the other stacks. Both build a stack's snapshot the same
// way from the same calls, so the two always agree on what a stack holds and
// neither leaves behind what the other wrote: an element belongs to the
// scope of the last snapshot that saw it, and a sweep removes only its own
// scope's. (A scope per region, as before, would never be swept by a stack's
// snapshot, nor a stack's by a region's.) The uuid in the scope makes a stack
// deleted and created again under the same name a new scope.
//
// A stack's snapshot holds the stack's vertex with its props, its resources
// with their contains and depends_on edges, and the imports edges where the
// stack is the importer. The validator wants both ends of every edge in the
// batch, so it also holds, without props, the other stacks its edges reach:
// the exporting stack of an import, and a nested stack (one of its
// resources). Each of those is described in its own snapshot.
//
// # Deleted stacks
//
// A stack deleted while no change event reached the producer (listen down,
// the event lost) would keep its elements in the graph forever: nothing
// sends its scope again. So a full scan also lists the stacks in
// DELETE_COMPLETE (ListStacks, which shows them for 90 days) and returns an
// EMPTY snapshot (no vertices, no edges) for each; its sweep removes what
// the graph still holds of the stack, and does nothing when it holds
// nothing.
//
// Sending hundreds of them every run would be waste, so the Source
// remembers, in memory and per region, the observed time of its latest scan
// that returned the region's snapshots, and returns an empty snapshot only
// for stacks whose DeletionTime is after that time less an hour (every
// deleted stack on a process's first scan of a region; a failed scan of a
// region changes nothing). The Source cannot know whether the caller sent
// what it returned; the hour is what makes up for that: a deletion is
// returned again by every scan until one that starts more than an hour after
// the previous scan's time. The limit: if every scan's snapshots fail to
// reach the queue for longer than that hour past a deletion (and no change
// event covered it), that stack's elements stay until the producer restarts,
// whose first scan returns every deleted stack again. A stack deleted
// between DescribeStacks and ListStacks gets its live snapshot this run and
// its empty one the next.
//
// DiscoverStack of a deleted stack (DescribeStacks by ARN answers it in
// DELETE_COMPLETE) or of one CloudFormation does not know (ValidationError
// "Stack with id ... does not exist") returns the empty snapshot of its
// scope, for the same sweep.
//
// # The calls
//
// A full scan, per region: sts:GetCallerIdentity (the account id), then
// cloudformation:DescribeStacks (every page; stacks in DELETE_COMPLETE are
// left out), cloudformation:ListStacks with StackStatusFilter DELETE_COMPLETE
// (every page), then for each live stack, at most awsapi.DefaultConcurrency at
// once: ListStackResources (every page) and, when the stack has a resource,
// GetTemplate with TemplateStage Processed (after transforms such as SAM).
// Last ListExports (every page) and ListImports for each export.
//
// DiscoverStack(stack ARN), in the ARN's region (one the Source discovers,
// else ErrRegionNotConfigured): sts:GetCallerIdentity (the ARN's account
// must be the credentials', else ErrOtherAccount), DescribeStacks with the
// ARN as StackName, ListStackResources and GetTemplate of the stack; for a
// nested stack also DescribeStacks and ListStackResources of its parent
// (see Edges: whether the parent's resources show the nested stack decides
// which snapshot holds the edge between them); then ListExports and
// ListImports for every export, as in a full scan: ListImports is the only
// exact account of which stack imports what.
//
// The permissions: sts:GetCallerIdentity, cloudformation:DescribeStacks,
// cloudformation:ListStacks, cloudformation:ListStackResources,
// cloudformation:GetTemplate, cloudformation:ListExports,
// cloudformation:ListImports.
//
// ListImports' ValidationError "Export '<name>' is not imported by any
// stack." means no importer; any other failure of any call (access denied,
// throttling that outlasts the adaptive retryer, a template that does not
// parse or is larger than MaxTemplateBytes) fails the region's scan (no
// snapshot of the region; the other regions' are still returned) or the
// stack's rediscovery, with the operation, the stack and the error code
// named: an incomplete snapshot must never look complete, or the sweep
// would retire what it missed.
//
// # Vertices
//
// A stack: label CloudFormation_Stack, id its stack ARN, props name, status,
// and parent and root (stack ARNs) for a nested stack. The props are in the
// stack's own snapshot only; in another stack's (an exporter, a nested
// stack, a parent) its vertex has none.
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
// physical id is the nested stack's ARN), in the parent's snapshot. When
// the parent's resource list does not show the nested stack (a parent being
// updated), the edge, without props, comes with the nested stack's
// snapshot instead, with the parent's vertex.
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
// name), keyed by export name (one pair may share several exports), in the
// importer's snapshot. ListImports, which answers stack names (a live
// stack's name is unique in its region), is the source of truth; a literal
// Fn::ImportValue in a template makes sure its edge exists too and adds the
// prop referenced_by: the "<logical id>.<property>" places that import it,
// sorted and comma-separated. The exporter is the stack ListExports names:
// CloudFormation does not delete a stack whose export is imported.
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
// name (ListImports still reports the import), and references to stacks in
// other regions.
package cloudformation
