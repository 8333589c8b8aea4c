package contain

import (
	"fmt"
	"strings"

	"github.com/custody-ir/custody/shared/incident"
)

// ClassLead is a resource custody names in the plan but never changes.
const ClassLead Class = "lead"

// StatusLead is a lead's status: never applied, approved or rolled back.
const StatusLead Status = "lead-only"

// leads are the plan's notes on the scope's EKS and ECS clusters: there
// is no generic containment of a cluster that does not also stop the
// workloads that share it, so custody names what a responder could do
// and does nothing.
func leads(scope incident.Scope) []Action {
	var out []Action
	for _, c := range scope.Clusters {
		a := Action{Class: ClassLead, Target: c, Status: StatusLead}
		switch {
		case strings.Contains(c, ":eks:"):
			a.Reason = "EKS cluster: no safe generic action (its nodes and pods serve other workloads). " +
				"Isolate the node instances (custody:containEc2, when they are in scope), cordon the node, apply a NetworkPolicy denying the pod, " +
				"or remove the Kubernetes user's access entry or RBAC binding"
			if len(scope.KubernetesUsers) > 0 {
				a.Reason += fmt.Sprintf(" (kubernetesUsers: %s)", strings.Join(scope.KubernetesUsers, ", "))
			}
		case strings.Contains(c, ":ecs:"):
			a.Reason = "ECS cluster: no safe generic action (its services restart stopped tasks, and its instances run other tasks). " +
				"Replace the task's security groups (awsvpc), stop the task after collecting, or scale its service to 0"
		default:
			a.Reason = "cluster (EKS or ECS, by name): no safe generic action; see the cluster's own controls"
		}
		out = append(out, a)
	}
	return out
}
