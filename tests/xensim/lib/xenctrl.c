/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim libxenctrl.so.4.17: the slice of libxenctrl a Xen device model
 * imports, each call forwarded to xensim-hv (see ../proto.h).
 *
 * Invariants: every exported function is listed in xenctrl.map under
 * VERS_4.17.0 (QEMU is linked BIND_NOW, so a missing symbol or a wrong
 * node fails at load time); failures are -1/errno as in the real library.
 * PCI passthrough calls are sent as XENSIM_OP_UNSUPPORTED: the simulator
 * has no host devices, and says so in its log and counters.
 */
#include <errno.h>
#include <stdlib.h>

#include <xenctrl.h>

#include "client.h"

struct xc_interface_core {
    XenSimConn *conn;
};

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));

    if (!xch) {
        return NULL;
    }
    xch->conn = xensim_conn_open(XENSIM_LIB_CTRL, NULL, NULL);
    if (!xch->conn) {
        int e = errno;

        free(xch);
        errno = e;
        return NULL;
    }
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (xch) {
        xensim_conn_close(xch->conn);
        free(xch);
    }
    return 0;
}

int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid,
                                     unsigned long nr_extents,
                                     unsigned int extent_order,
                                     unsigned int mem_flags,
                                     xen_pfn_t *extent_start)
{
    XenSimMsg req = {
        .op = XENSIM_OP_POPULATE_PHYSMAP,
        .arg = { domid, nr_extents, extent_order, mem_flags },
    };
    size_t bytes = nr_extents * sizeof(xen_pfn_t);

    if (bytes / sizeof(xen_pfn_t) != nr_extents ||
        bytes > XENSIM_MAX_PAYLOAD) {
        errno = E2BIG;
        return -1;
    }
    if (nr_extents && !extent_start) {
        errno = EFAULT;
        return -1;
    }
    return xensim_call(xch->conn, &req, extent_start, bytes, NULL, NULL, 0,
                       NULL, NULL) < 0 ? -1 : 0;
}

int xc_hvm_param_get(xc_interface *xch, uint32_t dom, uint32_t param,
                     uint64_t *value)
{
    XenSimMsg rsp;

    if (xensim_simple(xch->conn, XENSIM_OP_GET_HVM_PARAM, dom, param, 0, 0,
                      &rsp) < 0) {
        return -1;
    }
    *value = rsp.arg[0];
    return 0;
}

int xc_hvm_param_set(xc_interface *xch, uint32_t dom, uint32_t param,
                     uint64_t value)
{
    return xensim_simple(xch->conn, XENSIM_OP_SET_HVM_PARAM, dom, param,
                         value, 0, NULL) < 0 ? -1 : 0;
}

int xc_get_hvm_param(xc_interface *xch, uint32_t dom, int param,
                     unsigned long *value)
{
    uint64_t v;

    if (xc_hvm_param_get(xch, dom, param, &v) < 0) {
        return -1;
    }
    *value = v;
    return 0;
}

int xc_set_hvm_param(xc_interface *xch, uint32_t dom, int param,
                     unsigned long value)
{
    return xc_hvm_param_set(xch, dom, param, value);
}

int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason)
{
    return xensim_simple(xch->conn, XENSIM_OP_DOMAIN_SHUTDOWN, domid,
                         (uint32_t)reason, 0, 0, NULL) < 0 ? -1 : 0;
}

/* --- PCI passthrough: no host devices in the simulator ---------------- */

int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index,
                        int *pirq)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_physdev_map_pirq_msi(xc_interface *xch, uint32_t domid, int index,
                            int *pirq, int devfn, int bus, int entry_nr,
                            uint64_t table_base)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_bind_pt_pci_irq(xc_interface *xch, uint32_t domid,
                              uint8_t machine_irq, uint8_t bus,
                              uint8_t device, uint8_t intx)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_unbind_pt_irq(xc_interface *xch, uint32_t domid,
                            uint8_t machine_irq, uint8_t irq_type,
                            uint8_t bus, uint8_t device, uint8_t intx,
                            uint8_t isa_irq)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_update_msi_irq(xc_interface *xch, uint32_t domid,
                             uint32_t gvec, uint32_t pirq, uint32_t gflags,
                             uint64_t gtable)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_unbind_msi_irq(xc_interface *xch, uint32_t domid,
                             uint32_t gvec, uint32_t pirq, uint32_t gflags)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_memory_mapping(xc_interface *xch, uint32_t domid,
                             unsigned long first_gfn,
                             unsigned long first_mfn,
                             unsigned long nr_mfns, uint32_t add_mapping)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_ioport_mapping(xc_interface *xch, uint32_t domid,
                             uint32_t first_gport, uint32_t first_mport,
                             uint32_t nr_ports, uint32_t add_mapping)
{
    return xensim_unsupported(xch->conn, __func__);
}

int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid,
                               unsigned long first_mfn,
                               unsigned long nr_mfns, uint8_t allow_access)
{
    return xensim_unsupported(xch->conn, __func__);
}
