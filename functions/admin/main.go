// Command admin is the AdminFunction Lambda: it answers the operator's
// IAM-authorised routes (POST /admin/may-email, /admin/import,
// /admin/object and /admin/erase; GET /admin/suppression), recording the
// IAM caller as the operator.
package main

import (
	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	awsapp.ServeRoutes(web.AdminFunction)
}
