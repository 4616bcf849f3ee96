package azure

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// armPage GETs one page of an ARM list that has no typed SDK pager here
// (virtualMachineScaleSets, management-group descendants) and decodes
// it as T; what names the page in a decode error. It is a function of its
// own so that each page's body is closed when the page is read, not when
// the whole list is.
func armPage[T any](ctx context.Context, client *arm.Client, u, what string) (T, error) {
	var page T
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return page, err
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		return page, err
	}
	// The pipeline has usually read the body already (azcore's body
	// download policy); closing it is still ours to do.
	defer func() { _ = resp.Body.Close() }()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return page, runtime.NewResponseError(resp)
	}
	if err := runtime.UnmarshalAsJSON(resp, &page); err != nil {
		return page, fmt.Errorf("decode %s: %w", what, err)
	}
	return page, nil
}
