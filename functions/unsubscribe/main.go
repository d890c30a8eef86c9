// Command unsubscribe is the UnsubscribeFunction Lambda: it serves the unsubscribe page (GET/HEAD/OPTIONS), withdrawal (POST, incl. RFC 8058 one-click) and self-service withdrawal links.
package main

import (
	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	awsapp.ServeRoutes(web.UnsubscribeFunction)
}
