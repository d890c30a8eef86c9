// Command signup is the SignupFunction Lambda: it serves POST /signup, its CORS preflight and the thank-you page.
package main

import (
	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	awsapp.ServeRoutes(web.SignupFunction)
}
