package wechat

// The endpoints the client calls, relative to a base URL.
const (
	GetEnvInfoPath               = "/tcb/getenvinfo"
	DescribeCloudBaseRunEnvsPath = "/componenttcb/describecloudbaserunenvs"
	QueryAuthPath                = "/cgi-bin/component/api_query_auth"
	StartPushTicketPath          = "/cgi-bin/component/api_start_push_ticket"
	GetAuthorizerListPath        = "/cgi-bin/component/api_get_authorizer_list"
	StableTokenPath              = "/cgi-bin/stable_token"
	ComponentTokenPath           = "/cgi-bin/component/api_component_token"
	AuthorizerTokenPath          = "/cgi-bin/component/api_authorizer_token"
	QuotaPath                    = "/cgi-bin/openapi/quota/get" // an API's daily call quota
	GetAuthorizerInfoPath        = "/cgi-bin/component/api_get_authorizer_info"
)

// Operation names: Error.Op and the op of Client.Raw.
const (
	OpGetEnvInfo               = "getenvinfo"
	OpDescribeCloudBaseRunEnvs = "describecloudbaserunenvs"
	OpQueryAuth                = "query_auth"
	OpStartPushTicket          = "start_push_ticket"
	OpGetAuthorizerList        = "get_authorizer_list"
	OpQuota                    = "quota_get"
	OpGetAuthorizerInfo        = "get_authorizer_info"
)
