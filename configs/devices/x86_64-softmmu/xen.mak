# SPDX-License-Identifier: GPL-2.0-or-later
# Devices of QEMU as a Xen HVM device model (--with-devices-x86_64=xen).
# Only what libxl hands a guest: the PC machines (xenfv is i440fx), Q35 with
# its ICH9 AHCI, the VGA and NIC models xl.cfg offers, and USB tablets.

CONFIG_I440FX=y
CONFIG_Q35=y
CONFIG_VGA_PCI=y
CONFIG_VGA_CIRRUS=y
CONFIG_RTL8139_PCI=y
# libxl's nvme disks (vdev=nvmeN); the platform device unplugs them.
CONFIG_NVME_PCI=y
CONFIG_E1000_PCI=y
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_USB_UHCI=y
CONFIG_USB_EHCI_PCI=y
CONFIG_SERIAL_ISA=y
# The PC machines add a parallel port unless started with -nodefaults.
CONFIG_PARALLEL=y
