/* main.c - fornax-distributor: the distributor alone. */
#include "distributor.h"

int main(int argc, char **argv)
{
    const fx_module_t *mods[] = {&fx_distributor_module};
    return fx_app_main(argc, argv, "fornax-distributor", mods, 1);
}
