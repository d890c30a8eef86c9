// Command admin is the AdminFunction Lambda: it answers the operator's
// IAM-authorised /admin/… routes (may-email, import, object, erase,
// suppression, proof, export, rectify, audit, jobs; see web.Routes),
// recording the IAM caller as the operator.
package main

import (
	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	awsapp.ServeRoutes(web.AdminFunction)
}
