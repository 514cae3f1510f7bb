/* Placeholder until the translator lands: the engine exists so that
 * --engine bt and --engine auto can say plainly that it is not built yet. */
#include "engine.h"
#include "error.h"

static int bt_probe(void)
{
	return err_set("the binary translator is not implemented yet in this build; "
		       "use --engine kvm where /dev/kvm exists");
}

const struct engine_ops engine_bt = {
	.name = "bt",
	.probe = bt_probe,
};
