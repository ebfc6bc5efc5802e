package wechat

import "github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"

// Health is what the client read of a successful environment list, in the
// pass that validated it: how many environments there are and the
// resources the call's Keep option selected.
type Health struct {
	// Items counts the environments in the answer.
	Items int
	// Resources lists, in answer order, the resources the call's Keep
	// option selected: at most MaxResources of them. An environment's own
	// entry comes first, then its databases, then its static storages.
	// Text fields are bounded (MaxIDBytes, MaxStatusBytes).
	Resources []Resource
	// Omitted counts the resources selected beyond MaxResources.
	Omitted int
}

// ResourceKind names what a Resource is.
type ResourceKind string

// The resources an environment list reports a status for.
const (
	ResourceEnvironment   ResourceKind = "environment"    // an environment (or a null entry in the list)
	ResourceDatabase      ResourceKind = "database"       // a database of an environment (describecloudbaserunenvs)
	ResourceStaticStorage ResourceKind = "static_storage" // a static storage of an environment (describecloudbaserunenvs)
)

// Resource is one resource of an environment list and its status, as read.
type Resource struct {
	Kind ResourceKind
	// Env is the environment's id: env (getenvinfo) or env_id
	// (describecloudbaserunenvs); Alias is its alias.
	Env, Alias string
	// ID is a database's instance_id or a static storage's bucket, "" for
	// an environment.
	ID string
	// Status is the resource's status, "" when null or absent.
	Status string
}

// Bounds on what Health keeps of upstream values: at most MaxResources
// resources; ids and aliases of at most MaxIDBytes, statuses of at most
// MaxStatusBytes, cut at a rune boundary and ending in "…".
const (
	MaxResources   = scan.MaxResources
	MaxIDBytes     = scan.MaxIDBytes
	MaxStatusBytes = scan.MaxStatusBytes
)

// healthOf converts what the scanner read; it allocates only when
// resources were kept.
func healthOf(h scan.Health) Health {
	out := Health{Items: h.Items, Omitted: h.Omitted}
	if len(h.Resources) > 0 {
		out.Resources = make([]Resource, len(h.Resources))
		for i, r := range h.Resources {
			out.Resources[i] = Resource{Kind: ResourceKind(r.Kind), Env: r.Env, Alias: r.Alias, ID: r.ID, Status: r.Status}
		}
	}
	return out
}

// filterOf adapts a Keep option's function to the scanner's.
func filterOf(keep func(kind ResourceKind, status string) bool) scan.Filter {
	if keep == nil {
		return nil
	}
	return func(kind scan.Kind, status string) bool { return keep(ResourceKind(kind), status) }
}
