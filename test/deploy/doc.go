// Package deploy holds the tests of the deploy files (template.yaml,
// serverless.yml, events/) and of `make package`'s output.
package deploy
