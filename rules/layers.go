package rules

import "github.com/portcullis-sec/portcullis/exposure"

// LayerChecked reports whether a check of Input.Layers reads l: the
// network ACLs (return traffic) and the AWS default security groups (CIS
// AWS 5.4). Every other layer is judged only through the exposures it lets
// in, so a caller that carries layers apart from their exposures (the
// serverless unit results) needs to keep these alone.
func LayerChecked(l *exposure.Layer) bool {
	return l != nil && (l.Kind == exposure.LayerNetworkACL || isDefaultSG(l))
}
