// Package wechat is a client for the two WeChat cloud environment APIs,
// /tcb/getenvinfo and /componenttcb/describecloudbaserunenvs, together with
// the token sources that feed them.
//
// # Calls
//
// A [Client] holds the transport behaviour shared by every call: the base
// URLs tried in failover order, the per-attempt timeout, retries with
// backoff and jitter for transient failures, and a cap on the size of an
// answer. Each API method takes a [TokenSource], so one client can serve many
// authorizers:
//
//	c, err := wechat.NewClient(wechat.WithBaseURLs("https://api.weixin.qq.com"))
//	list, resp, err := c.GetEnvInfo(ctx, wechat.StaticTokenSource(tok), "")
//
// Every method returns the decoded answer, a [Response] holding WeChat's
// answer bytes as received and the number of HTTP attempts, and an error.
// [Client.Raw] is the one raw path: the answer undecoded, checked in the
// pass that also selects resources ([RawOptions]).
//
// # Untrusted upstream
//
// The client never follows a redirect, refuses answers that are not valid
// UTF-8, carry an encoding it did not ask for, or exceed the size limit,
// bounds every upstream text it passes on, and removes every secret it has
// seen from every text: its [Scrubber] keeps tokens until they expire. By default it
// tries api.weixin.qq.com, then WeChat's disaster-recovery domain
// api2.weixin.qq.com, and keeps starting at the one that last answered for
// [StickyFailover].
//
// # Errors
//
// Failures are reported as *[Error], which carries a [Kind], the errcode,
// errmsg and rid WeChat sent, and whether the failure is transient. Match
// them with [errors.As], or with [errors.Is] against the sentinel values
// such as [ErrAuth]. No error text ever contains a token or a secret: URLs
// inside transport errors are redacted.
//
// # Tokens
//
// [StaticTokenSource] uses a token as given. [NewStableTokenSource],
// [NewComponentTokenSource] and [NewAuthorizerTokenSource] mint tokens from
// credentials, cache them until shortly before they expire, share one mint
// between concurrent callers, and are re-minted once when WeChat rejects a
// token they issued.
package wechat
