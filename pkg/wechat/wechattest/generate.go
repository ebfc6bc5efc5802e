package wechattest

import (
	"fmt"
	"strconv"
)

// GenerateRunEnvs returns a describecloudbaserunenvs answer with n
// environments shaped like real ones: each has a storage, a log service, a
// database and a static storage, and every tenth one a tag. Use it to test
// large answers.
func GenerateRunEnvs(n int) []byte {
	b := make([]byte, 0, 64+n*1100)
	b = append(b, `{"errcode":0,"errmsg":"ok","env_list":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		id := fmt.Sprintf("env%06d-%06x", i, i*7919%0xffffff)
		app := strconv.Itoa(1308820263 + i%1000)
		b = fmt.Appendf(b, `{"env_id":%q,"source":"miniapp","alias":"env%06d","create_time":"2021-12-16 15:06:52","update_time":"2026-11-20 08:00:00","status":"NORMAL",`, id, i)
		b = fmt.Appendf(b, `"databases":[{"instance_id":"tnt-%08x","status":"RUNNING","region":"ap-shanghai"}],`, i)
		b = fmt.Appendf(b, `"storages":[{"region":"ap-shanghai","bucket":"7778-%s-%s","cdn_domain":"7778-%s-%s.tcb.qcloud.la","app_id":%q}],`, id, app, id, app, app)
		b = fmt.Appendf(b, `"functions":[{"namespace":%q,"region":"ap-shanghai"}],"package_id":"basic","package_name":"基础版 1",`, id)
		b = fmt.Appendf(b, `"log_services":[{"logset_name":"tcb-logset-%s","logset_id":"af0676b8-4c88-445f-90b4-%012x","topic_name":"tcb-topic-%s","topic_id":"6cffd67f-5700-4238-8523-%012x","region":"ap-shanghai"}],`, id, i, id, i)
		b = fmt.Appendf(b, `"static_storages":[{"static_domain":"%s-%s.tcloudbaseapp.com","default_dir_name":"/","status":"online","region":"ap-shanghai","bucket":"7072-%s-static-%s"}],`, id, app, id, app)
		b = append(b, `"is_auto_degrade":false,"env_channel":"wxrun","pay_mode":"postpaid","is_default":false,"region":"ap-shanghai","tags":[`...)
		if i%10 == 0 {
			b = append(b, `{"key":"team","value":"platform"}`...)
		}
		b = append(b, `],"custom_log_services":[]}`...)
	}
	return append(b, "]}"...)
}
