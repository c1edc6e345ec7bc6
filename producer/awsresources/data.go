package awsresources

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/neptune"
	neptunetypes "github.com/aws/aws-sdk-go-v2/service/neptune/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func (r *region) tables(ctx context.Context) error {
	p := dynamodb.NewListTablesPaginator(r.dynamodb, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, name := range page.TableNames {
			r.g.vertex("AWS::DynamoDB::Table", r.acct.Regional("dynamodb", "table/"+name), props("name", name))
		}
	}
	return nil
}

// The RDS API lists Neptune and DocumentDB clusters and instances too, as
// RDS clusters. Each is labelled once, by its engine: Neptune clusters come
// from the Neptune API only, DocumentDB ones from the RDS API as DocDB_*.
const neptuneEngine = "neptune"

func clusterType(engine string) string {
	switch engine {
	case neptuneEngine:
		return "AWS::Neptune::DBCluster"
	case "docdb":
		return "AWS::DocDB::DBCluster"
	}
	return "AWS::RDS::DBCluster"
}

func instanceType(engine string) string {
	switch engine {
	case neptuneEngine:
		return "AWS::Neptune::DBInstance"
	case "docdb":
		return "AWS::DocDB::DBInstance"
	}
	return "AWS::RDS::DBInstance"
}

func (r *region) dbClusters(ctx context.Context) error {
	p := rds.NewDescribeDBClustersPaginator(r.rds, &rds.DescribeDBClustersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, c := range page.DBClusters {
			engine := aws.ToString(c.Engine)
			if engine == neptuneEngine {
				continue // neptuneClusters lists it
			}
			arn := aws.ToString(c.DBClusterArn)
			r.g.vertex(clusterType(engine), arn,
				props("name", c.DBClusterIdentifier, "engine", engine, "engine_version", c.EngineVersion, "state", c.Status))
			for _, sg := range c.VpcSecurityGroups {
				r.g.edgesTo(arnRef(arn), edgebatch.HasSecurityGroupLabel, "security-group", []string{aws.ToString(sg.VpcSecurityGroupId)})
			}
			for _, role := range c.AssociatedRoles {
				r.g.edge(arnRef(arn), edgebatch.UsesRoleLabel, arnRef(aws.ToString(role.RoleArn)))
			}
		}
	}
	return nil
}

// dbInstances lists RDS instances (and Neptune and DocumentDB ones, labelled
// by engine), with instance member_of cluster.
func (r *region) dbInstances(ctx context.Context) error {
	p := rds.NewDescribeDBInstancesPaginator(r.rds, &rds.DescribeDBInstancesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, in := range page.DBInstances {
			engine := aws.ToString(in.Engine)
			arn := aws.ToString(in.DBInstanceArn)
			r.g.vertex(instanceType(engine), arn,
				props("name", in.DBInstanceIdentifier, "engine", engine, "instance_class", in.DBInstanceClass, "state", in.DBInstanceStatus))
			from := arnRef(arn)
			if cluster := aws.ToString(in.DBClusterIdentifier); cluster != "" {
				// RDS stores identifiers in lower case and its ARNs carry them so.
				clusterARN := r.acct.Regional("rds", "cluster:"+strings.ToLower(cluster))
				r.g.edge(from, memberOfLabel, typedRef(clusterARN, clusterType(engine)))
			}
			if sg := in.DBSubnetGroup; sg != nil {
				r.g.edgesTo(from, edgebatch.InVPCLabel, "vpc", []string{aws.ToString(sg.VpcId)})
				for _, s := range sg.Subnets {
					r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", []string{aws.ToString(s.SubnetIdentifier)})
				}
			}
			for _, sg := range in.VpcSecurityGroups {
				r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", []string{aws.ToString(sg.VpcSecurityGroupId)})
			}
		}
	}
	return nil
}

// neptuneClusters lists Neptune clusters through the Neptune API. Its
// DescribeDBClusters answers for every engine unless filtered.
func (r *region) neptuneClusters(ctx context.Context) error {
	p := neptune.NewDescribeDBClustersPaginator(r.neptune, &neptune.DescribeDBClustersInput{
		Filters: []neptunetypes.Filter{{Name: aws.String("engine"), Values: []string{neptuneEngine}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, c := range page.DBClusters {
			if aws.ToString(c.Engine) != neptuneEngine {
				continue // should the filter be ignored, dbClusters has it
			}
			arn := aws.ToString(c.DBClusterArn)
			r.g.vertex("AWS::Neptune::DBCluster", arn,
				props("name", c.DBClusterIdentifier, "engine", c.Engine, "engine_version", c.EngineVersion, "state", c.Status))
			for _, sg := range c.VpcSecurityGroups {
				r.g.edgesTo(arnRef(arn), edgebatch.HasSecurityGroupLabel, "security-group", []string{aws.ToString(sg.VpcSecurityGroupId)})
			}
			for _, role := range c.AssociatedRoles {
				r.g.edge(arnRef(arn), edgebatch.UsesRoleLabel, arnRef(aws.ToString(role.RoleArn)))
			}
		}
	}
	return nil
}

// buckets lists the buckets of this region only: ListBuckets is global, and
// without BucketRegion every region's snapshot would claim every bucket.
func (r *region) buckets(ctx context.Context) error {
	p := s3.NewListBucketsPaginator(r.s3, &s3.ListBucketsInput{BucketRegion: aws.String(r.region)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, b := range page.Buckets {
			name := aws.ToString(b.Name)
			r.g.vertex("AWS::S3::Bucket", "arn:"+r.acct.Partition+":s3:::"+name, props("name", name))
		}
	}
	return nil
}
