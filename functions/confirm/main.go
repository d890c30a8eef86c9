// Command confirm is the ConfirmFunction Lambda: it serves double opt-in confirm links and resends.
package main

import (
	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	awsapp.ServeRoutes(web.ConfirmFunction)
}
