/*
 * The I/O engine of a Xen guest's drives (accel/xen/xen-drive-aio.c).
 *
 * xen_drive_aio_class_init() is the one call the Xen accelerator makes:
 * from its class_init it adds the "aio-default" property and the
 * prepare_backends hook that picks the engine of -drive options given no
 * aio=, before the drives are created.  xen_drive_aio_choice() tells the
 * monitor what it chose.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XEN_DRIVE_AIO_H
#define XEN_DRIVE_AIO_H

#include "qom/object.h"

void xen_drive_aio_class_init(ObjectClass *oc);

/*
 * For the monitor: the aio-default @policy ("auto", "threads"), the engine
 * drives given no aio= use (@io_uring, else threads) and @why; false
 * before prepare_backends made the choice.
 */
bool xen_drive_aio_choice(const char **policy, bool *io_uring,
                          const char **why);

#endif
