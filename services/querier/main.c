/* main.c - fornax-querier: the querier alone. */
#include "querier.h"

int main(int argc, char **argv)
{
    const fx_module_t *mods[] = {&fx_querier_module};
    return fx_app_main(argc, argv, "fornax-querier", mods, 1);
}
