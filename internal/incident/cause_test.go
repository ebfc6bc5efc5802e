package incident

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

func checks(n int, f func(i int) Check) []Check {
	out := make([]Check, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestAnalyze(t *testing.T) {
	ok := func(int) Check { return Check{Reached: true} }
	tests := []struct {
		name          string
		facts         Facts
		wantCauses    []string
		wantInhibited map[string]int // key -> inhibited checks
		wantMessage   []string       // substrings of the causes' messages, in order
	}{
		{name: "healthy", facts: Facts{Checks: checks(100, ok)}},
		{name: "component token from the checks",
			facts: Facts{Checks: checks(2000, func(i int) Check {
				if i < 1900 {
					return Check{Reached: true, Failure: &Failure{Op: OpComponentToken, Kind: "config"}}
				}
				return Check{Reached: true}
			})},
			wantCauses:    []string{CauseComponentToken},
			wantInhibited: map[string]int{"platform:component_token": 1900},
			wantMessage:   []string{"the component access token cannot be had: 1900 authorizer checks could not run"}},
		{name: "component token explained by a stale verify ticket",
			facts: Facts{Component: &Failure{Op: OpComponentToken, Kind: "auth", ErrCode: 61006, Message: "component_verify_ticket is invalid"},
				StaleTicket: "no verify ticket pushed for 12h40m",
				Checks: checks(30, func(int) Check {
					return Check{Reached: true, Failure: &Failure{Op: OpComponentToken, Kind: "auth", ErrCode: 61006}}
				})},
			wantCauses:    []string{CauseComponentToken},
			wantInhibited: map[string]int{"platform:component_token": 30},
			wantMessage: []string{"the component access token cannot be had because the verify ticket is stale: " +
				"no verify ticket pushed for 12h40m: 30 authorizer checks could not run (component_verify_ticket is invalid)"}},
		{name: "component token failed reading the list",
			facts:      Facts{List: &Failure{Op: OpComponentToken, Kind: "auth", ErrCode: 61005, Message: "ticket expired"}},
			wantCauses: []string{CauseComponentToken}, wantInhibited: map[string]int{},
			wantMessage: []string{"the component access token cannot be had (ticket expired)"}},
		{name: "authorizer list",
			facts: Facts{List: &Failure{Op: OpGetAuthorizerList, Kind: "upstream", ErrCode: -1, Message: "system error"},
				Checks: checks(30, func(i int) Check {
					if i < 10 {
						return Check{Reached: true, Failure: &Failure{Op: OpGetAuthorizerList, Kind: "config"}}
					}
					return Check{Reached: true}
				})},
			wantCauses: []string{CauseAuthorizerList}, wantInhibited: map[string]int{"platform:authorizer_list": 10},
			wantMessage: []string{"the authorizer list could not be read (system error)"}},
		{name: "95% time out: unreachable",
			facts: Facts{Checks: checks(2000, func(i int) Check {
				if i%20 == 0 {
					return Check{Reached: true, Failure: &Failure{Kind: "permission", ErrCode: 85088}}
				}
				return Check{Reached: true, Failure: &Failure{Kind: "timeout"}}
			})},
			wantCauses: []string{CauseUnreachable}, wantInhibited: map[string]int{"platform:wechat_unreachable": 1900},
			wantMessage: []string{"1900 of 2000 authorizer checks failed"}},
		{name: "89% is not unreachable",
			facts: Facts{Checks: checks(100, func(i int) Check {
				if i < 89 {
					return Check{Reached: true, Failure: &Failure{Kind: "upstream"}}
				}
				return Check{Reached: true}
			})},
			wantInhibited: map[string]int{}},
		{name: "19 checks are too few",
			facts:         Facts{Checks: checks(19, func(int) Check { return Check{Reached: true, Failure: &Failure{Kind: "timeout"}} })},
			wantInhibited: map[string]int{}},
		{name: "exactly 20 and 90%",
			facts: Facts{Checks: checks(20, func(i int) Check {
				if i < 18 {
					return Check{Reached: true, Failure: &Failure{Kind: "network"}}
				}
				return Check{Reached: true}
			})},
			wantCauses: []string{CauseUnreachable}, wantInhibited: map[string]int{"platform:wechat_unreachable": 18}},
		{name: "deadline: not reached is not a failure, nor unreachable",
			facts: Facts{Checks: checks(2000, func(i int) Check {
				if i < 607 {
					return Check{Reached: true}
				}
				return Check{Reached: false, Failure: &Failure{Kind: "timeout"}}
			}), Advice: "raise the timeout"},
			wantCauses: []string{CauseDeadline}, wantInhibited: map[string]int{"platform:deadline": 1393},
			wantMessage: []string{"reached 607 of 2000 authorizers; the 1393 others were not checked and keep their state; raise the timeout"}},
		{name: "cut off before the results were collected",
			facts: Facts{CutOff: true}, wantCauses: []string{CauseDeadline},
			wantMessage: []string{"the run's deadline came before the fleet's results could be collected; no authorizer changes state; raise"}},
		{name: "all causes at once, in order",
			facts: Facts{List: &Failure{Op: OpGetAuthorizerList, Kind: "upstream"}, Checks: checks(100, func(i int) Check {
				switch {
				case i < 10:
					return Check{Reached: true, Failure: &Failure{Op: OpComponentToken, Kind: "auth", ErrCode: 61005}}
				case i < 20:
					return Check{Reached: false}
				default:
					return Check{Reached: true, Failure: &Failure{Kind: "upstream"}}
				}
			})},
			wantCauses:    []string{CauseComponentToken, CauseAuthorizerList, CauseUnreachable, CauseDeadline},
			wantInhibited: map[string]int{"platform:component_token": 10, "platform:deadline": 10, "platform:wechat_unreachable": 80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.facts)
			var causes []string
			for _, c := range a.Causes {
				causes = append(causes, c.Cause)
				if c.Key != KeyPrefix+c.Cause {
					t.Fatalf("key %q for cause %q", c.Key, c.Cause)
				}
			}
			if fmt.Sprint(causes) != fmt.Sprint(tt.wantCauses) {
				t.Fatalf("causes = %v, want %v", causes, tt.wantCauses)
			}
			inhibited := map[string]int{}
			for _, k := range a.InhibitedBy {
				if k != "" {
					inhibited[k]++
				}
			}
			if tt.wantInhibited == nil {
				tt.wantInhibited = map[string]int{}
			}
			if fmt.Sprint(inhibited) != fmt.Sprint(tt.wantInhibited) {
				t.Fatalf("inhibited = %v, want %v", inhibited, tt.wantInhibited)
			}
			for _, c := range a.Causes {
				if c.Inhibited != inhibited[c.Key] {
					t.Fatalf("cause %s counts %d inhibited, InhibitedBy says %d", c.Key, c.Inhibited, inhibited[c.Key])
				}
			}
			for i, want := range tt.wantMessage {
				if !strings.Contains(a.Causes[i].Message, want) {
					t.Fatalf("cause %d message = %q, want it to contain %q", i, a.Causes[i].Message, want)
				}
			}
		})
	}
}

// TestInhibitorOfHealthyRun: a run nothing inhibits keeps no list of
// inhibitors (a fleet's would be one string per authorizer), and
// Inhibitor reads "" for every check; one inhibited check makes the list.
func TestInhibitorOfHealthyRun(t *testing.T) {
	a := Analyze(Facts{Checks: checks(1000, func(int) Check { return Check{Reached: true} })})
	if a.InhibitedBy != nil || a.Inhibitor(0) != "" || a.Inhibitor(999) != "" || a.Inhibitor(5000) != "" {
		t.Fatalf("healthy run: InhibitedBy has %d entries, Inhibitor(0) %q", len(a.InhibitedBy), a.Inhibitor(0))
	}
	a = Analyze(Facts{Checks: checks(1000, func(i int) Check { return Check{Reached: i != 7} })})
	if len(a.InhibitedBy) != 1000 || a.Inhibitor(7) != KeyPrefix+CauseDeadline || a.Inhibitor(8) != "" {
		t.Fatalf("one unreached check: InhibitedBy has %d entries, Inhibitor(7) %q", len(a.InhibitedBy), a.Inhibitor(7))
	}
}

// TestCheckSize holds a check, one per fleet authorizer at the end of
// every run, to 16 bytes.
func TestCheckSize(t *testing.T) {
	if n := unsafe.Sizeof(Check{}); n > 16 {
		t.Errorf("a check is %d bytes, want 16", n)
	}
}
