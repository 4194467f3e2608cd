/* main.c - fornax-compactor: the compactor alone. */
#include "compactor.h"

int main(int argc, char **argv)
{
    const fx_module_t *mods[] = {&fx_compactor_module};
    return fx_app_main(argc, argv, "fornax-compactor", mods, 1);
}
