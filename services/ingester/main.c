/* main.c - fornax-ingester: the ingester alone. */
#include "ingester.h"

int main(int argc, char **argv)
{
    const fx_module_t *mods[] = {&fx_ingester_module};
    return fx_app_main(argc, argv, "fornax-ingester", mods, 1);
}
