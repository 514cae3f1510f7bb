/* Configuration (--vmi-version MAJ.MIN, --vmi off) and host/vCPU setup. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vmi_internal.h"

void vmi_config_default(struct vmi_config *c)
{
	c->enabled = true;
	c->version = VMI_VERSION(VMI_VERSION_MAJOR, VMI_VERSION_MINOR);
	c->backend = VMI_BACKEND_BT;
	c->cpuid_base = VMI_CPUID_BASE_FIRST;
	c->all_calls = false;
}

bool vmi_version_supported(uint32_t v)
{
	return VMI_VERSION_MAJ(v) == VMI_VERSION_MAJOR && VMI_VERSION_MIN(v) <= VMI_VERSION_MINOR;
}

static int parse_u16(const char *s, const char *end, uint32_t *out)
{
	uint32_t v = 0;
	if (s == end || end - s > 5)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	if (v > 0xffff)
		return -1;
	*out = v;
	return 0;
}

int vmi_config_parse_version(struct vmi_config *c, const char *s)
{
	uint32_t maj, min;
	if (!strcmp(s, "off")) {
		c->enabled = false;
		return 0;
	}
	const char *dot = strchr(s, '.');
	if (!dot || parse_u16(s, dot, &maj) || parse_u16(dot + 1, dot + strlen(dot), &min))
		return err_set("--vmi-version '%s': expected MAJOR.MINOR such as 1.0, or 'off'", s);
	if (!vmi_version_supported(VMI_VERSION(maj, min)))
		return err_set("--vmi-version %u.%u: this vmlite offers VMI 1.0 up to %u.%u",
			       maj, min, VMI_VERSION_MAJOR, VMI_VERSION_MINOR);
	c->enabled = true;
	c->version = VMI_VERSION(maj, min);
	return 0;
}

int vmi_host_init(struct vmi_host *h, const struct vmi_config *c)
{
	memset(h, 0, sizeof(*h));
	h->cfg = *c;
	if (c->enabled && !vmi_version_supported(c->version))
		return err_set("VMI version %u.%u is not supported; use --vmi-version 1.0",
			       VMI_VERSION_MAJ(c->version), VMI_VERSION_MIN(c->version));
	if (c->cpuid_base < VMI_CPUID_BASE_FIRST || c->cpuid_base > VMI_CPUID_BASE_LAST ||
	    c->cpuid_base % VMI_CPUID_BASE_STEP)
		return err_set("VMI CPUID base 0x%x is not 0x40000000 + k*0x100", c->cpuid_base);
	h->ncalls = vmi_ncalls_for(c->version);
	if (pthread_mutex_init(&h->lock, NULL))
		return err_set("VMI: cannot create a mutex");
	return 0;
}

void vmi_host_destroy(struct vmi_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

void vmi_ctx_init(struct vmi_ctx *ctx, struct vmi_host *h, const struct vmi_ops *ops,
		  void *opaque)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->host = h;
	ctx->ops = ops;
	ctx->opaque = opaque;
}
