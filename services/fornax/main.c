/*
 * main.c - fornax: every service in one process (-target=all by default),
 * or any comma-separated subset. The services still talk to each other over
 * gRPC on loopback, exactly as separate processes do.
 */
#include "services/compactor/compactor.h"
#include "services/distributor/distributor.h"
#include "services/ingester/ingester.h"
#include "services/querier/querier.h"
#include "services/store-gateway/store_gateway.h"

int main(int argc, char **argv)
{
    /* Ingesters first: modules start in this order and stop in reverse, so
     * the ingesters are the last to leave. */
    const fx_module_t *mods[] = {&fx_ingester_module, &fx_store_gateway_module,
                                 &fx_distributor_module, &fx_querier_module, &fx_compactor_module};
    return fx_app_main(argc, argv, "fornax", mods, sizeof mods / sizeof mods[0]);
}
