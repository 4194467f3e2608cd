/* main.c - fornax-store-gateway: the store-gateway alone. */
#include "store_gateway.h"

int main(int argc, char **argv)
{
    const fx_module_t *mods[] = {&fx_store_gateway_module};
    return fx_app_main(argc, argv, "fornax-store-gateway", mods, 1);
}
