/*
 * The Xen accelerator: QEMU as a Xen device model.
 *
 * Owns the process-wide Xen handles (xen_xc, xen_fmem, xen_dmod), the
 * accelerator's properties, the "device-model/<domid>/state" node the
 * toolstack waits on, the PV console tty nodes, and the restriction of
 * the handles (-xen-domid-restrict) once the machine is built.  vCPUs
 * are Xen's: QEMU runs none (dummy vCPU threads).
 *
 * Invariants: "running" is written after every other run-state handler
 * has run, so once the toolstack sees it the ioreq server serves
 * (hw/i386/xen/xen-ioreq-server.c enables itself in its own handler).
 * Failures to talk to xenstore are reported, not fatal: the toolstack
 * notices a device model that never says "running".
 *
 * Adding a property: a getter/setter pair in the "properties" section and
 * one xen_accel_add_*() line in xen_accel_class_init().
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/accel.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "chardev/char.h"
#include "hw/boards.h"
#include "hw/xen/xen-legacy-backend.h"
#include "hw/xen/xen_pt.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "sysemu/xen.h"
#include "sysemu/xen-drive-aio.h"

/* Run-state handlers with lower priorities run first when the VM runs. */
#define XEN_DM_STATE_PRIORITY 1000

#define TYPE_XEN_ACCEL ACCEL_CLASS_NAME("xen")
OBJECT_DECLARE_SIMPLE_TYPE(XenAccelState, XEN_ACCEL)

struct XenAccelState {
    AccelState parent_obj;

    uint64_t mapcache_max_size;     /* 0: the map cache picks its cap */
};

bool xen_allowed;

xc_interface *xen_xc;
xenforeignmemory_handle *xen_fmem;
xendevicemodel_handle *xen_dmod;

/* ---- xenstore nodes ---- */

/* <domain path>@node/tty = the pty's name, for xenconsole. */
static void record_pty(int domid, Chardev *chr, const char *node)
{
    struct xs_handle *xs;
    char *dom_path;
    g_autofree char *path = NULL;
    const char *pty;

    if (!CHARDEV_IS_PTY(chr)) {
        return;
    }
    pty = chr->filename + strlen("pty:");
    xs = xs_open(0);
    if (!xs) {
        error_report("xen: cannot open xenstore for the console tty");
        return;
    }
    dom_path = xs_get_domain_path(xs, domid);
    if (dom_path) {
        path = g_strdup_printf("%s%s/tty", dom_path, node);
        if (!xs_write(xs, XBT_NULL, path, pty, strlen(pty))) {
            error_report("xen: cannot write %s", path);
        }
        free(dom_path);
    } else {
        error_report("xen: no xenstore path for domain %d", domid);
    }
    xs_close(xs);
}

void xenstore_store_pv_console_info(int i, Chardev *chr)
{
    g_autofree char *node = i ? g_strdup_printf("/device/console/%d", i)
                              : g_strdup("/console");

    record_pty(xen_domid, chr, node);
}

static void xen_dm_state_handler(void *opaque, bool running, RunState state)
{
    g_autofree char *path = NULL;

    if (!running) {
        return;
    }
    if (!xenstore) {
        error_report("xen: no xenstore connection to record the state");
        return;
    }
    path = g_strdup_printf("device-model/%u/state", xen_domid);
    /* Restricted, this may fail: such a toolstack uses QMP instead. */
    if (!xs_write(xenstore, XBT_NULL, path, "running", strlen("running")) &&
        !xen_domid_restrict) {
        error_report("xen: cannot record the device model state in %s",
                     path);
    }
}

/* ---- properties ---- */

/* igd-passthru lives in hw/xen/xen_pt.c: these only forward to it. */
static void igd_passthru_set(Object *obj, bool on, Error **errp)
{
    xen_igd_gfx_pt_set(on, errp);
}

static bool igd_passthru_get(Object *obj, Error **errp)
{
    return xen_igd_gfx_pt_enabled();
}

static void xen_get_mapcache_max_size(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    uint64_t value = XEN_ACCEL(obj)->mapcache_max_size;

    visit_type_size(v, name, &value, errp);
}

static void xen_set_mapcache_max_size(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    uint64_t value;

    if (!visit_type_size(v, name, &value, errp)) {
        return;
    }
    if (value && value < MiB) {
        error_setg(errp, "%s must be 0 (automatic) or at least 1M", name);
        return;
    }
    XEN_ACCEL(obj)->mapcache_max_size = value;
}

static void xen_accel_add_igd_passthru(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "igd-passthru", igd_passthru_get,
                                   igd_passthru_set);
    object_class_property_set_description(oc, "igd-passthru",
        "Set on/off to enable/disable igd passthrou");
}

static void xen_accel_add_mapcache_max_size(ObjectClass *oc)
{
    object_class_property_add(oc, "mapcache-max-size", "size",
                              xen_get_mapcache_max_size,
                              xen_set_mapcache_max_size, NULL, NULL);
    object_class_property_set_description(oc, "mapcache-max-size",
        "Most guest RAM the map cache keeps mapped at once "
        "(0: automatic, 32G or less under RLIMIT_AS)");
}

/* ---- accelerator ---- */

/*
 * -xen-domid-restrict, once the machine is built: from here on the Xen
 * handles reach only the guest's domain.  libxl's dm_restrict relies on
 * a device model that cannot restrict itself not running at all (it
 * would serve the guest with dom0's rights), so a failure is a start-up
 * error: the caller (qemu_init) exits with the message, before libxl
 * (which waits for the device model) unpauses the domain.
 */
static bool xen_setup_post(MachineState *ms, AccelState *accel,
                           Error **errp)
{
    if (xen_domid_restrict && xen_restrict(xen_domid) < 0) {
        error_setg_errno(errp, errno, "xen: cannot restrict the device "
                         "model's handles to domain %u", xen_domid);
        return false;
    }
    return true;
}

static int xen_init(MachineState *ms)
{
    xen_xc = xc_interface_open(NULL, NULL, 0);
    if (!xen_xc) {
        xen_pv_printf(NULL, 0, "can't open xen interface\n");
        return -1;
    }
    xen_fmem = xenforeignmemory_open(NULL, 0);
    if (!xen_fmem) {
        xen_pv_printf(NULL, 0, "can't open xen fmem interface\n");
        goto close_xc;
    }
    xen_dmod = xendevicemodel_open(NULL, 0);
    if (!xen_dmod) {
        xen_pv_printf(NULL, 0, "can't open xen devicemodel interface\n");
        goto close_fmem;
    }
    qemu_add_vm_change_state_handler_prio(xen_dm_state_handler, NULL,
                                          XEN_DM_STATE_PRIORITY);
    /* Guest RAM is the domain's: generic code must not allocate it. */
    MACHINE_GET_CLASS(ms)->default_ram_id = NULL;
    return 0;

close_fmem:
    xenforeignmemory_close(xen_fmem);
close_xc:
    xc_interface_close(xen_xc);
    return -1;
}

/*
 * What a Xen save stream has never carried: the toolstack restores
 * streams of older QEMUs too.
 */
static GlobalProperty xen_migration_compat[] = {
    { "migration", "send-section-footer", "off" },
    { "migration", "send-configuration", "off" },
    { "migration", "store-global-state", "off" },
};

static void xen_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "Xen";
    ac->allowed = &xen_allowed;
    ac->init_machine = xen_init;
    ac->setup_post = xen_setup_post;
    ac->compat_props = g_ptr_array_new();
    compat_props_add(ac->compat_props, xen_migration_compat,
                     G_N_ELEMENTS(xen_migration_compat));

    /* properties: -accel xen,NAME=VALUE */
    xen_accel_add_igd_passthru(oc);
    xen_accel_add_mapcache_max_size(oc);
    xen_drive_aio_class_init(oc);
}

/* Xen runs the vCPUs: QEMU's stand-ins only wait. */
static void xen_accel_ops_class_init(ObjectClass *oc, void *data)
{
    ACCEL_OPS_CLASS(oc)->create_vcpu_thread = dummy_start_vcpu_thread;
}

static const TypeInfo xen_accel_types[] = {
    {
        .name = TYPE_XEN_ACCEL,
        .parent = TYPE_ACCEL,
        .instance_size = sizeof(XenAccelState),
        .class_init = xen_accel_class_init,
    }, {
        .name = ACCEL_OPS_NAME("xen"),
        .parent = TYPE_ACCEL_OPS,
        .abstract = true,
        .class_init = xen_accel_ops_class_init,
    },
};

DEFINE_TYPES(xen_accel_types)
