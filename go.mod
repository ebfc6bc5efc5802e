module github.com/wxcloudenv/wxcloudenv

go 1.26.8

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/kelseyhightower/envconfig v1.4.0
	github.com/tencentyun/scf-go-lib v0.0.0-20230904103145-13c9a7eeca80
	gopkg.in/yaml.v3 v3.0.1
)
