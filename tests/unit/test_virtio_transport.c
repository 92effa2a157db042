/* kernel/virtio/transport.c: the virtio-pci transport as a Linux driver drives it (reset, features,
 * queues, DRIVER_OK), the events for the backend, odd accesses, the backend going away,
 * the guest restarting, and vio_attach's checks. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include <mica/service.h>
#include "kernel/virtio/transport.h"

static struct vio d;
static struct mica_svc_attach offer;
static struct vio_event ev;
static char err[160];

#define NVEC 4
#define FEAT (VIO_F_VERSION_1 | 1ULL << 33 | 1ULL << 5 | 1ULL << 0) /* 0x3_0000_0021 */

static void init(void)
{
	memset(&d, 0xa5, sizeof(d));
	memset(&offer, 0, sizeof(offer));
	memset(err, 0, sizeof(err));
	vio_init(&d, NVEC, 4);
	offer.features = FEAT;
	offer.num_queues = 3;
	offer.queue_max = 256;
	offer.config_len = 8;
	for (unsigned i = 0; i < 8; i++)
		offer.config[i] = (uint8_t)(0x10 + i);
}

TestSuite(vio, .init = init);

static void attach(void)
{
	cr_assert_eq(vio_attach(&d, &offer, err, sizeof(err)), 0, "%s", err);
}

static uint64_t rd(unsigned off, unsigned size)
{
	return vio_common_read(&d, off, size);
}

/* A write; returns the event type (0: none). */
static unsigned wr(unsigned off, unsigned size, uint64_t val)
{
	memset(&ev, 0xa5, sizeof(ev));
	int r = vio_common_write(&d, off, size, val, &ev);
	cr_assert_eq(r, ev.type != 0);
	return ev.type;
}

static unsigned status(uint8_t s)
{
	return wr(VIO_C_STATUS, 1, s);
}

static void driver_features(uint64_t f)
{
	wr(VIO_C_GFSELECT, 4, 0);
	wr(VIO_C_GF, 4, (uint32_t)f);
	wr(VIO_C_GFSELECT, 4, 1);
	wr(VIO_C_GF, 4, (uint32_t)(f >> 32));
}

/* Attached, features negotiated: ACKNOWLEDGE | DRIVER | FEATURES_OK. */
static void negotiated(void)
{
	attach();
	cr_assert_eq(status(VIO_S_ACKNOWLEDGE), 0);
	cr_assert_eq(status(VIO_S_DRIVER), 0);
	driver_features(VIO_F_VERSION_1 | 1);
	cr_assert_eq(status(VIO_S_FEATURES_OK), MICA_IOREQ_FEATURES);
	cr_assert_eq(rd(VIO_C_STATUS, 1), 0x0B);
}

static void check_reset_values(void)
{
	cr_expect_eq(rd(VIO_C_DFSELECT, 4), 0);
	cr_expect_eq(rd(VIO_C_GFSELECT, 4), 0);
	cr_expect_eq(rd(VIO_C_GF, 4), 0);
	cr_expect_eq(rd(VIO_C_MSIX_CONFIG, 2), VIO_NO_VECTOR);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	cr_expect_eq(rd(VIO_C_Q_SELECT, 2), 0);
	cr_expect_eq(d.isr, 0);
	cr_expect_eq(d.drv_features, 0);
	for (unsigned i = 0; i < VIO_QUEUES_MAX; i++) {
		cr_expect_eq(d.q[i].size, d.queue_max, "queue %u", i);
		cr_expect_eq(d.q[i].msix_vector, VIO_NO_VECTOR, "queue %u", i);
		cr_expect_eq(d.q[i].enable, 0, "queue %u", i);
		cr_expect_eq(d.q[i].desc | d.q[i].driver | d.q[i].device, 0, "queue %u", i);
	}
}

Test(vio, init_values)
{
	check_reset_values();
	cr_expect_eq(d.attached, 0);
	cr_expect_eq(d.nvec, NVEC);
	cr_expect_eq(d.max_queues, 4);
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_DF, 4), 0, "no backend: no features, the driver refuses");
	wr(VIO_C_DFSELECT, 4, 1);
	cr_expect_eq(rd(VIO_C_DF, 4), 0);
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 0);
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 0);
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 0);
	cr_expect_eq(vio_config_read(&d, 0, 4), 0);
	cr_expect_eq(vio_isr_read(&d), 0);
	cr_expect_eq(vio_config_vector(&d), VIO_NO_VECTOR);
	cr_expect_eq(vio_queue_vector(&d, 0), VIO_NO_VECTOR);
}

Test(vio, init_clamps_max_queues)
{
	vio_init(&d, NVEC, 100);
	cr_expect_eq(d.max_queues, VIO_QUEUES_MAX);
}

Test(vio, attached_values)
{
	attach();
	check_reset_values();
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 3);
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 256);
	cr_expect_eq(rd(VIO_C_Q_NOTIFY_OFF, 2), 0);
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 1);
	cr_expect_eq(vio_config_read(&d, 0, 4), 0x13121110);
}

Test(vio, device_feature_halves)
{
	attach();
	cr_expect_eq(rd(VIO_C_DF, 4), 0x21);
	wr(VIO_C_DFSELECT, 4, 1);
	cr_expect_eq(rd(VIO_C_DFSELECT, 4), 1);
	cr_expect_eq(rd(VIO_C_DF, 4), 3);
	wr(VIO_C_DFSELECT, 4, 2);
	cr_expect_eq(rd(VIO_C_DF, 4), 0);
	wr(VIO_C_DFSELECT, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(VIO_C_DFSELECT, 4), 0xFFFFFFFF);
	cr_expect_eq(rd(VIO_C_DF, 4), 0);
	cr_expect_eq(wr(VIO_C_DF, 4, 0x12345678), 0);
	wr(VIO_C_DFSELECT, 4, 0);
	cr_expect_eq(rd(VIO_C_DF, 4), 0x21, "device_feature is read-only");
}

Test(vio, driver_feature_halves)
{
	attach();
	wr(VIO_C_GF, 4, 0x21);
	wr(VIO_C_GFSELECT, 4, 1);
	wr(VIO_C_GF, 4, 0x1);
	cr_expect_eq(rd(VIO_C_GF, 4), 1);
	wr(VIO_C_GFSELECT, 4, 0);
	cr_expect_eq(rd(VIO_C_GF, 4), 0x21);
	cr_expect_eq(d.drv_features, VIO_F_VERSION_1 | 0x21);
	wr(VIO_C_GFSELECT, 4, 2);
	cr_expect_eq(rd(VIO_C_GFSELECT, 4), 2);
	wr(VIO_C_GF, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(VIO_C_GF, 4), 0);
	cr_expect_eq(d.drv_features, VIO_F_VERSION_1 | 0x21, "word 2 ignored");
	wr(VIO_C_GFSELECT, 4, 0);
	wr(VIO_C_GF, 4, 0x1);
	cr_expect_eq(d.drv_features, VIO_F_VERSION_1 | 0x1, "a word is replaced whole");
}

Test(vio, driver_feature_frozen_after_features_ok)
{
	negotiated();
	wr(VIO_C_GFSELECT, 4, 0);
	cr_expect_eq(wr(VIO_C_GF, 4, 0x20), 0);
	wr(VIO_C_GFSELECT, 4, 1);
	cr_expect_eq(wr(VIO_C_GF, 4, 0), 0);
	cr_expect_eq(d.drv_features, VIO_F_VERSION_1 | 1);
	wr(VIO_C_GFSELECT, 4, 0);
	cr_expect_eq(rd(VIO_C_GF, 4), 1);
}

Test(vio, features_ok_needs_version_1)
{
	attach();
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	driver_features(1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x03, "FEATURES_OK not kept");
	/* The driver may fix its choice and try again. */
	driver_features(VIO_F_VERSION_1 | 1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), MICA_IOREQ_FEATURES);
	cr_expect_eq(ev.arg[0], VIO_F_VERSION_1 | 1);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0B);
}

Test(vio, features_ok_refused_outside_offer)
{
	attach();
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	driver_features(VIO_F_VERSION_1 | 1ULL << 1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x03);
	driver_features(VIO_F_VERSION_1 | 1ULL << 40);
	cr_expect_eq(status(VIO_S_FEATURES_OK), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x03);
	driver_features(FEAT);
	cr_expect_eq(status(VIO_S_FEATURES_OK), MICA_IOREQ_FEATURES, "the whole offer is fine");
	cr_expect_eq(ev.arg[0], FEAT);
}

Test(vio, features_ok_refused_when_not_attached)
{
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	driver_features(VIO_F_VERSION_1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x03);
}

Test(vio, features_then_driver_ok)
{
	negotiated();
	cr_expect_eq(ev.arg[0], VIO_F_VERSION_1 | 1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), 0, "FEATURES_OK again: not new, nothing");
	cr_expect_eq(status(VIO_S_DRIVER_OK), MICA_IOREQ_DRIVER_OK);
	cr_expect_eq(ev.arg[0], VIO_F_VERSION_1 | 1);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F);
	cr_expect_eq(status(VIO_S_DRIVER_OK), 0, "DRIVER_OK again: nothing");
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F);
}

Test(vio, features_ok_and_driver_ok_at_once)
{
	attach();
	driver_features(VIO_F_VERSION_1 | 0x20);
	cr_expect_eq(status(0x0F), MICA_IOREQ_DRIVER_OK, "only DRIVER_OK reported");
	cr_expect_eq(ev.arg[0], VIO_F_VERSION_1 | 0x20);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F);
}

Test(vio, driver_ok_without_features_ok_reports_nothing)
{
	attach();
	driver_features(1); /* no VERSION_1: FEATURES_OK refused */
	cr_expect_eq(status(0x0F), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x07);
}

Test(vio, status_bits_stick)
{
	negotiated();
	cr_expect_eq(status(VIO_S_ACKNOWLEDGE), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0B, "a driver cannot clear bits but by reset");
	cr_expect_eq(status(VIO_S_FAILED), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x8B);
	cr_expect_eq(d.reset_pending, 0);
}

Test(vio, reset_while_attached)
{
	negotiated();
	status(VIO_S_DRIVER_OK);
	wr(VIO_C_MSIX_CONFIG, 2, 1);
	wr(VIO_C_Q_SELECT, 2, 1);
	wr(VIO_C_Q_SIZE, 2, 64);
	wr(VIO_C_Q_DESC, 8, 0x1000);
	wr(VIO_C_Q_MSIX, 2, 2);
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), MICA_IOREQ_QUEUE);
	d.isr = VIO_ISR_QUEUE;

	cr_expect_eq(status(0), MICA_IOREQ_RESET);
	cr_expect_eq(ev.arg[0], 0);
	cr_expect_eq(d.reset_pending, 1);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F, "status reads the old value until done");
	cr_expect_eq(status(0), 0, "reported once");
	cr_expect_eq(status(VIO_S_ACKNOWLEDGE), 0, "writes ignored while pending");
	cr_expect_eq(wr(VIO_C_Q_SELECT, 2, 2), 0);
	cr_expect_eq(wr(VIO_C_MSIX_CONFIG, 2, 1), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F);
	cr_expect_eq(vio_notify_ok(&d, 1), 0);

	/* The driver-visible state is reset already. */
	cr_expect_eq(d.status, 0);
	cr_expect_eq(rd(VIO_C_MSIX_CONFIG, 2), VIO_NO_VECTOR);
	cr_expect_eq(rd(VIO_C_Q_SELECT, 2), 0);
	cr_expect_eq(d.isr, 0);
	cr_expect_eq(d.drv_features, 0);
	cr_expect_eq(d.q[1].size, 256);
	cr_expect_eq(d.q[1].enable, 0);
	cr_expect_eq(d.q[1].desc, 0);
	cr_expect_eq(d.q[1].msix_vector, VIO_NO_VECTOR);

	vio_reset_done(&d);
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	check_reset_values();
	cr_expect_eq(status(VIO_S_ACKNOWLEDGE), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 1, "writes work again");
}

Test(vio, reset_of_fresh_device_reports_nothing)
{
	attach();
	cr_expect_eq(status(0), 0, "status was 0: nothing for the backend");
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	cr_expect_eq(status(VIO_S_ACKNOWLEDGE), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 1);
}

Test(vio, reset_when_not_attached_reports_nothing)
{
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	wr(VIO_C_MSIX_CONFIG, 2, 0);
	cr_expect_eq(status(0), 0);
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0, "reset at once");
	check_reset_values();
}

Test(vio, queue_size_rules)
{
	negotiated();
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 256);
	static const struct {
		uint16_t val, expect;
	} t[] = {
		{ 128, 128 }, { 0, 128 }, { 100, 128 }, { 512, 128 }, { 1, 1 },
		{ 3, 1 }, { 256, 256 }, { 0xFFFF, 256 }, { 2, 2 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(wr(VIO_C_Q_SIZE, 2, t[i].val), 0);
		cr_expect_eq(rd(VIO_C_Q_SIZE, 2), t[i].expect, "after writing %u", t[i].val);
	}
	wr(VIO_C_Q_ENABLE, 2, 1);
	wr(VIO_C_Q_SIZE, 2, 64);
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 2, "ignored once enabled");
}

Test(vio, queue_beyond_num_queues)
{
	negotiated();
	for (unsigned sel = 3; sel <= 0xFFFF; sel += sel < 10 ? 1 : 0x3FF0) {
		wr(VIO_C_Q_SELECT, 2, sel);
		cr_expect_eq(rd(VIO_C_Q_SELECT, 2), sel);
		cr_expect_eq(wr(VIO_C_Q_SIZE, 2, 16), 0);
		cr_expect_eq(wr(VIO_C_Q_MSIX, 2, 1), 0);
		cr_expect_eq(wr(VIO_C_Q_DESC, 8, 0x1000), 0);
		cr_expect_eq(wr(VIO_C_Q_DRIVER, 4, 0x2000), 0);
		cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), 0, "queue %u", sel);
		cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 0);
		cr_expect_eq(rd(VIO_C_Q_MSIX, 2), 0);
		cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 0);
		cr_expect_eq(rd(VIO_C_Q_NOTIFY_OFF, 2), 0);
		cr_expect_eq(rd(VIO_C_Q_DESC, 8), 0);
		cr_expect_eq(rd(VIO_C_Q_DRIVER, 4), 0);
		cr_expect_eq(vio_notify_ok(&d, sel), 0);
		cr_expect_eq(vio_queue_vector(&d, sel), VIO_NO_VECTOR);
	}
	cr_expect_eq(d.q[3].size, 256, "queue 3 (held, not offered) untouched");
	cr_expect_eq(d.q[3].enable, 0);
	cr_expect_eq(d.q[3].desc, 0);
}

Test(vio, queue_enable_event)
{
	negotiated();
	wr(VIO_C_Q_SELECT, 2, 2);
	cr_expect_eq(rd(VIO_C_Q_NOTIFY_OFF, 2), 2, "notify offset: the queue's index");
	wr(VIO_C_Q_SIZE, 2, 128);
	cr_expect_eq(wr(VIO_C_Q_DESC, 8, 0x123456000ULL), 0);
	wr(VIO_C_Q_DRIVER, 4, 0x00007000);
	wr(VIO_C_Q_DRIVER + 4, 4, 0x2);
	wr(VIO_C_Q_DEVICE, 4, 0x8000);
	cr_expect_eq(vio_notify_ok(&d, 2), 0, "not enabled yet");
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 0), 0, "writing 0 is ignored");
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 2), 0);
	cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 0);
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), MICA_IOREQ_QUEUE);
	cr_expect_eq(ev.queue, 2);
	cr_expect_eq(ev.size, 128);
	cr_expect_eq(ev.arg[0], 0x123456000ULL);
	cr_expect_eq(ev.arg[1], 0x200007000ULL);
	cr_expect_eq(ev.arg[2], 0x8000);
	cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 1);
	cr_expect_eq(vio_notify_ok(&d, 2), 1);
	cr_expect_eq(vio_notify_ok(&d, 1), 0);

	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), 0, "already enabled: nothing");
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 0), 0, "disabling is not allowed");
	cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 1);
	wr(VIO_C_Q_DESC, 8, 0x5000);
	wr(VIO_C_Q_DRIVER, 4, 0x5000);
	wr(VIO_C_Q_DEVICE + 4, 4, 0x5000);
	cr_expect_eq(rd(VIO_C_Q_DESC, 8), 0x123456000ULL, "addresses fixed once enabled");
	cr_expect_eq(rd(VIO_C_Q_DRIVER, 8), 0x200007000ULL);
	cr_expect_eq(rd(VIO_C_Q_DEVICE, 8), 0x8000);
}

Test(vio, queue_enable_needs_features_ok)
{
	attach();
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), 0, "FEATURES must come before any QUEUE");
	cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 0);
	driver_features(VIO_F_VERSION_1);
	cr_expect_eq(status(VIO_S_FEATURES_OK), MICA_IOREQ_FEATURES);
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), MICA_IOREQ_QUEUE);
	cr_expect_eq(ev.size, 256, "the size read at reset");
}

Test(vio, u64_fields)
{
	negotiated();
	static const unsigned f[] = { VIO_C_Q_DESC, VIO_C_Q_DRIVER, VIO_C_Q_DEVICE };
	for (unsigned i = 0; i < 3; i++) {
		unsigned o = f[i];
		uint64_t v = 0x1122334455667700ULL + i;

		wr(o, 8, v);
		cr_expect_eq(rd(o, 8), v);
		cr_expect_eq(rd(o, 4), (uint32_t)v);
		cr_expect_eq(rd(o + 4, 4), (uint32_t)(v >> 32));
		wr(o, 4, 0xAABBCCDD);
		cr_expect_eq(rd(o, 8), 0x11223344AABBCCDDULL, "low half only");
		wr(o + 4, 4, 0x01020304);
		cr_expect_eq(rd(o, 8), 0x01020304AABBCCDDULL, "high half only");
		cr_expect_eq(rd(o + 4, 8), 0, "a 64-bit access at the high half");
		cr_expect_eq(rd(o, 2), 0);
		cr_expect_eq(rd(o + 2, 4), 0);
		wr(o + 2, 4, 0);
		wr(o, 2, 0);
		wr(o + 4, 8, 0);
		cr_expect_eq(rd(o, 8), 0x01020304AABBCCDDULL, "odd accesses write nothing");
	}
	cr_expect_eq(d.q[0].desc, 0x01020304AABBCCDDULL);
	cr_expect_eq(d.q[0].driver, 0x01020304AABBCCDDULL);
	cr_expect_eq(d.q[0].device, 0x01020304AABBCCDDULL);
}

Test(vio, odd_accesses)
{
	negotiated();
	wr(VIO_C_MSIX_CONFIG, 2, 1);
	wr(VIO_C_Q_SELECT, 2, 1);
	/* Wrong width, misaligned, straddling, beyond the structure, unknown sizes. */
	static const struct {
		unsigned off, size;
	} t[] = {
		{ VIO_C_DFSELECT, 2 }, { VIO_C_DFSELECT, 1 }, { VIO_C_DFSELECT, 8 },
		{ VIO_C_DF + 1, 4 }, { VIO_C_GF + 2, 2 }, { VIO_C_MSIX_CONFIG, 4 },
		{ VIO_C_MSIX_CONFIG, 1 }, { VIO_C_MSIX_CONFIG + 1, 1 }, { VIO_C_STATUS, 2 },
		{ VIO_C_STATUS, 4 }, { VIO_C_CFG_GEN, 2 }, { VIO_C_Q_SELECT, 4 },
		{ VIO_C_Q_SELECT + 1, 2 }, { VIO_C_Q_SIZE, 1 }, { VIO_C_Q_ENABLE, 4 },
		{ VIO_C_Q_DESC + 1, 4 }, { VIO_C_Q_DESC + 2, 2 }, { VIO_C_LEN, 4 },
		{ VIO_C_LEN, 1 }, { VIO_C_LEN - 4, 8 }, { 0x1000, 4 }, { 0xFFFFFFFF, 1 },
		{ VIO_C_STATUS, 0 }, { VIO_C_Q_SIZE, 3 }, { VIO_C_DFSELECT, 16 },
		{ 0x01, 0 }, { 0x03, 0 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(rd(t[i].off, t[i].size), 0, "read %#x size %u", t[i].off, t[i].size);
		cr_expect_eq(wr(t[i].off, t[i].size, 0), 0, "write %#x size %u", t[i].off,
			     t[i].size);
	}
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0B);
	cr_expect_eq(rd(VIO_C_MSIX_CONFIG, 2), 1);
	cr_expect_eq(rd(VIO_C_Q_SELECT, 2), 1);
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 256);
	cr_expect_eq(d.dfselect, 0);
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 3);
	cr_expect_eq(wr(VIO_C_NUM_QUEUES, 2, 7), 0);
	cr_expect_eq(wr(VIO_C_CFG_GEN, 1, 7), 0);
	cr_expect_eq(wr(VIO_C_Q_NOTIFY_OFF, 2, 7), 0);
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 3, "read-only");
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 1);
	cr_expect_eq(rd(VIO_C_Q_NOTIFY_OFF, 2), 1);
}

Test(vio, wide_values_are_truncated)
{
	negotiated();
	wr(VIO_C_Q_SELECT, 2, 0x10001);
	cr_expect_eq(rd(VIO_C_Q_SELECT, 2), 1, "a 16-bit write carries 16 bits");
	wr(VIO_C_DFSELECT, 4, 0x100000001ULL);
	cr_expect_eq(rd(VIO_C_DFSELECT, 4), 1);
	cr_expect_eq(wr(VIO_C_STATUS, 1, 0x100 | VIO_S_DRIVER_OK), MICA_IOREQ_DRIVER_OK);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0F);
}

Test(vio, msix_vectors)
{
	negotiated();
	static const struct {
		uint16_t val, expect;
	} t[] = {
		{ 0, 0 }, { NVEC - 1, NVEC - 1 }, { NVEC, VIO_NO_VECTOR }, { 0x1234, VIO_NO_VECTOR },
		{ 2, 2 }, { VIO_NO_VECTOR, VIO_NO_VECTOR }, { 1, 1 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wr(VIO_C_MSIX_CONFIG, 2, t[i].val);
		cr_expect_eq(rd(VIO_C_MSIX_CONFIG, 2), t[i].expect, "config vector %#x", t[i].val);
		wr(VIO_C_Q_SELECT, 2, 1);
		wr(VIO_C_Q_MSIX, 2, t[i].val);
		cr_expect_eq(rd(VIO_C_Q_MSIX, 2), t[i].expect, "queue vector %#x", t[i].val);
		cr_expect_eq(vio_queue_vector(&d, 1), t[i].expect);
	}
	cr_expect_eq(vio_config_vector(&d), 1);
	cr_expect_eq(vio_queue_vector(&d, 0), VIO_NO_VECTOR);
	cr_expect_eq(vio_queue_vector(&d, 3), VIO_NO_VECTOR, "no such queue");
	cr_expect_eq(vio_queue_vector(&d, 1000), VIO_NO_VECTOR);
	wr(VIO_C_Q_ENABLE, 2, 1);
	wr(VIO_C_Q_MSIX, 2, 3);
	cr_expect_eq(vio_queue_vector(&d, 1), 3, "the vector may change while enabled");
}

Test(vio, isr_read_clears)
{
	attach();
	d.isr = VIO_ISR_QUEUE | VIO_ISR_CONFIG;
	cr_expect_eq(vio_isr_read(&d), 3);
	cr_expect_eq(vio_isr_read(&d), 0);
}

Test(vio, config_read)
{
	attach();
	cr_expect_eq(vio_config_read(&d, 0, 1), 0x10);
	cr_expect_eq(vio_config_read(&d, 1, 2), 0x1211);
	cr_expect_eq(vio_config_read(&d, 4, 4), 0x17161514);
	cr_expect_eq(vio_config_read(&d, 6, 4), 0x1716, "bytes past config_len read 0");
	cr_expect_eq(vio_config_read(&d, 7, 1), 0x17);
	cr_expect_eq(vio_config_read(&d, 8, 1), 0);
	cr_expect_eq(vio_config_read(&d, 8, 4), 0);
	cr_expect_eq(vio_config_read(&d, 255, 4), 0);
	cr_expect_eq(vio_config_read(&d, 0xFFFFFFFF, 4), 0);
	cr_expect_eq(vio_config_read(&d, 0, 3), 0, "size 3");
	cr_expect_eq(vio_config_read(&d, 0, 8), 0, "size 8");
	cr_expect_eq(vio_config_read(&d, 0, 0), 0);
}

Test(vio, config_write)
{
	attach();
	memset(&ev, 0xa5, sizeof(ev));
	cr_expect_eq(vio_config_write(&d, 2, 2, 0xBEEF, &ev), 1);
	cr_expect_eq(ev.type, MICA_IOREQ_CONFIG);
	cr_expect_eq(ev.size, 2);
	cr_expect_eq(ev.arg[0], 2);
	cr_expect_eq(ev.arg[1], 0xBEEF);
	cr_expect_eq(vio_config_read(&d, 0, 4), 0xBEEF1110);

	cr_expect_eq(vio_config_write(&d, 4, 4, 0xCAFEF00D, &ev), 1);
	cr_expect_eq(ev.size, 4);
	cr_expect_eq(ev.arg[0], 4);
	cr_expect_eq(ev.arg[1], 0xCAFEF00D);
	cr_expect_eq(vio_config_read(&d, 4, 4), 0xCAFEF00D);

	cr_expect_eq(vio_config_write(&d, 7, 1, 0x1FF, &ev), 1);
	cr_expect_eq(ev.arg[1], 0xFF, "one byte carries one byte");
	cr_expect_eq(vio_config_read(&d, 7, 1), 0xFF);
	cr_expect_eq(vio_config_read(&d, 6, 2), 0xFFFE);

	memset(&ev, 0xa5, sizeof(ev));
	cr_expect_eq(vio_config_write(&d, 6, 4, 0x11111111, &ev), 0, "crosses config_len");
	cr_expect_eq(ev.type, 0);
	cr_expect_eq(vio_config_write(&d, 8, 1, 0x11, &ev), 0);
	cr_expect_eq(vio_config_write(&d, 0xFFFFFFFF, 4, 0x11, &ev), 0);
	cr_expect_eq(vio_config_write(&d, 0, 3, 0x11, &ev), 0);
	cr_expect_eq(vio_config_write(&d, 0, 0, 0x11, &ev), 0);
	cr_expect_eq(d.config[8], 0, "nothing stored past config_len");
	cr_expect_eq(vio_config_read(&d, 4, 4), 0xFFFEF00D);
	cr_expect_eq(vio_config_read(&d, 0, 1), 0x10);
}

Test(vio, config_write_without_backend)
{
	attach();
	vio_detach(&d);
	cr_expect_eq(vio_config_write(&d, 0, 1, 0x55, &ev), 0, "no one to tell");
	cr_expect_eq(ev.type, 0);
	cr_expect_eq(vio_config_read(&d, 0, 1), 0x10);
}

Test(vio, notify_ok)
{
	negotiated();
	wr(VIO_C_Q_SELECT, 2, 0);
	cr_expect_eq(vio_notify_ok(&d, 0), 0, "disabled");
	wr(VIO_C_Q_ENABLE, 2, 1);
	cr_expect_eq(vio_notify_ok(&d, 0), 1);
	cr_expect_eq(vio_notify_ok(&d, 3), 0, "held but not offered");
	cr_expect_eq(vio_notify_ok(&d, VIO_QUEUES_MAX), 0);
	cr_expect_eq(vio_notify_ok(&d, 0xFFFFFFFF), 0);
	status(0);
	cr_expect_eq(vio_notify_ok(&d, 0), 0, "reset");
	vio_reset_done(&d);
	cr_expect_eq(vio_notify_ok(&d, 0), 0);
}

Test(vio, notify_needs_backend)
{
	negotiated();
	wr(VIO_C_Q_ENABLE, 2, 1);
	cr_expect_eq(vio_notify_ok(&d, 0), 1);
	vio_detach(&d);
	cr_expect_eq(vio_notify_ok(&d, 0), 0);
}

Test(vio, notify_while_reset_pending)
{
	negotiated();
	wr(VIO_C_Q_ENABLE, 2, 1);
	d.reset_pending = 1; /* as between the RESET report and vio_reset_done() */
	cr_expect_eq(vio_notify_ok(&d, 0), 0);
}

Test(vio, detach_device_in_use)
{
	negotiated();
	status(VIO_S_DRIVER_OK);
	cr_expect_eq(vio_detach(&d), 1, "config-change interrupt");
	cr_expect_eq(d.attached, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x4F);
	cr_expect_eq(vio_isr_read(&d), VIO_ISR_CONFIG);
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 0);
	cr_expect_eq(rd(VIO_C_DF, 4), 0);
	cr_expect_eq(vio_detach(&d), 0, "already told");
	cr_expect_eq(vio_fail(&d), 0);
	/* The driver recovers by resetting: nothing to report, no backend. */
	cr_expect_eq(status(0), 0);
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	/* A new backend. */
	attach();
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 3);
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 2);
}

Test(vio, detach_unused_device)
{
	attach();
	cr_expect_eq(vio_detach(&d), 0);
	cr_expect_eq(d.attached, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	cr_expect_eq(d.isr, 0);
}

Test(vio, detach_clears_pending_reset)
{
	negotiated();
	cr_expect_eq(status(0), MICA_IOREQ_RESET);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0B);
	cr_expect_eq(vio_detach(&d), 0, "the driver reset it: no NEEDS_RESET");
	cr_expect_eq(d.reset_pending, 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0, "the pending reset counts as done");
	cr_expect_eq(d.isr, 0);
	cr_expect_eq(status(VIO_S_ACKNOWLEDGE), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 1);
}

Test(vio, guest_reset)
{
	cr_expect_eq(vio_guest_reset(&d), 0, "nothing attached");
	attach();
	cr_expect_eq(vio_guest_reset(&d), 0, "status 0: nothing to forget");
	status(VIO_S_ACKNOWLEDGE);
	cr_expect_eq(vio_guest_reset(&d), 1);
	check_reset_values();

	negotiated();
	wr(VIO_C_Q_ENABLE, 2, 1);
	wr(VIO_C_MSIX_CONFIG, 2, 1);
	d.isr = 1;
	cr_expect_eq(vio_guest_reset(&d), 1);
	check_reset_values();
	cr_expect_eq(d.attached, 1, "the backend stays");
	cr_expect_eq(vio_notify_ok(&d, 0), 0);

	negotiated();
	status(0);
	cr_expect_eq(d.reset_pending, 1);
	cr_expect_eq(vio_guest_reset(&d), 0, "already reset; its report is out");
	cr_expect_eq(d.reset_pending, 0, "nothing pending");
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
}

Test(vio, guest_reset_after_detach)
{
	negotiated();
	vio_detach(&d);
	cr_expect_eq(vio_guest_reset(&d), 0, "no backend");
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	cr_expect_eq(d.isr, 0);
}

Test(vio, fail)
{
	cr_expect_eq(vio_fail(&d), 0, "status 0: nothing to report");
	cr_expect_eq(d.status, 0);
	cr_expect_eq(d.isr, 0);
	negotiated();
	status(VIO_S_DRIVER_OK);
	cr_expect_eq(vio_fail(&d), 1);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x4F);
	cr_expect_eq(d.isr, VIO_ISR_CONFIG);
	cr_expect_eq(vio_fail(&d), 0, "already set");
	cr_expect_eq(status(0), MICA_IOREQ_RESET, "the driver recovers by reset");
	vio_reset_done(&d);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	cr_expect_eq(d.isr, 0);
	cr_expect_eq(vio_fail(&d), 0);
}

Test(vio, fail_while_reset_pending)
{
	negotiated();
	status(0);
	cr_expect_eq(vio_fail(&d), 0);
	vio_reset_done(&d);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
}

Test(vio, no_events_without_backend)
{
	status(0x0F);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x07);
	cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), 0);
	cr_expect_eq(status(0), 0);
}

Test(vio, driver_ok_after_detach_reports_nothing)
{
	negotiated();
	vio_detach(&d);
	cr_expect_eq(status(VIO_S_DRIVER_OK), 0);
}

Test(vio, write_without_event_pointer)
{
	attach();
	driver_features(VIO_F_VERSION_1);
	cr_expect_eq(vio_common_write(&d, VIO_C_STATUS, 1, VIO_S_FEATURES_OK, NULL), 1);
	cr_expect_eq(vio_config_write(&d, 0, 1, 1, NULL), 1);
}

static void attach_fails(const char *what)
{
	struct vio before;

	memcpy(&before, &d, sizeof(d));
	err[0] = 0;
	cr_expect_eq(vio_attach(&d, &offer, err, sizeof(err)), MICA_EINVAL, "%s", what);
	cr_expect(err[0] != 0, "%s: a sentence", what);
	cr_expect(strstr(err, what) != NULL, "%s: %s", what, err);
	cr_expect_eq(memcmp(&before, &d, sizeof(d)), 0, "%s: d unchanged", what);
}

Test(vio, attach_checks)
{
	offer.features = 1;
	attach_fails("VERSION_1");
	offer.features = FEAT;

	offer.num_queues = 0;
	attach_fails("0 queues");
	offer.num_queues = 5;
	attach_fails("5 queues, expected 1 to 4");
	offer.num_queues = 4;
	attach();
	offer.num_queues = 1;
	attach();

	offer.queue_max = 0;
	attach_fails("queue size 0");
	offer.queue_max = 100;
	attach_fails("queue size 100");
	offer.queue_max = 65536;
	attach_fails("queue size 65536");
	offer.queue_max = 0xFFFFFFFF;
	attach_fails("power of two");
	offer.queue_max = 32768;
	attach();
	offer.queue_max = 1;
	attach();

	offer.config_len = MICA_SVC_CONFIG_MAX + 1;
	attach_fails("257 bytes");
	offer.config_len = 0xFFFFFFFF;
	attach_fails("at most 256");
	offer.config_len = MICA_SVC_CONFIG_MAX;
	attach();
	cr_expect_eq(vio_config_read(&d, 252, 4), 0);
	offer.config_len = 0;
	attach();
	cr_expect_eq(vio_config_read(&d, 0, 4), 0);
}

Test(vio, attach_null_err)
{
	offer.num_queues = 0;
	cr_expect_eq(vio_attach(&d, &offer, NULL, 0), MICA_EINVAL);
	cr_expect_eq(vio_attach(&d, NULL, err, sizeof(err)), MICA_EINVAL);
	cr_expect(err[0] != 0);
}

Test(vio, reattach_replaces_offer)
{
	attach();
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 1);
	offer.features = VIO_F_VERSION_1;
	offer.num_queues = 1;
	offer.queue_max = 64;
	offer.config_len = 2;
	offer.config[0] = 0xAA;
	attach();
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 2, "config_generation bumped");
	cr_expect_eq(rd(VIO_C_NUM_QUEUES, 2), 1);
	cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 64, "a fresh device reads the new maximum");
	cr_expect_eq(rd(VIO_C_DF, 4), 0);
	cr_expect_eq(vio_config_read(&d, 0, 4), 0x11AA, "old bytes past config_len gone");
	d.config_generation = 0xFF;
	attach();
	cr_expect_eq(rd(VIO_C_CFG_GEN, 1), 0, "wraps");
}

Test(vio, reattach_keeps_driver_state)
{
	negotiated();
	wr(VIO_C_Q_SIZE, 2, 32);
	wr(VIO_C_Q_ENABLE, 2, 1);
	wr(VIO_C_Q_SELECT, 2, 1);
	wr(VIO_C_Q_SIZE, 2, 128);
	offer.queue_max = 64;
	attach();
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0x0B);
	cr_expect_eq(d.q[0].size, 32, "enabled queue keeps its size");
	cr_expect_eq(d.q[1].size, 64, "a size that no longer fits is cut to the maximum");
	cr_expect_eq(d.q[2].size, 64);
	cr_expect_eq(vio_notify_ok(&d, 0), 1);
}

Test(vio, linux_probe_sequence)
{
	/* virtio_pci_modern: reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
	attach();
	cr_expect_eq(status(0), 0);
	cr_expect_eq(rd(VIO_C_STATUS, 1), 0);
	status(VIO_S_ACKNOWLEDGE);
	status(VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	wr(VIO_C_DFSELECT, 4, 0);
	uint64_t f = rd(VIO_C_DF, 4);
	wr(VIO_C_DFSELECT, 4, 1);
	f |= rd(VIO_C_DF, 4) << 32;
	cr_expect_eq(f, FEAT);
	driver_features(f & ~(1ULL << 5));
	cr_expect_eq(status(0x0B), MICA_IOREQ_FEATURES);
	cr_expect_eq(ev.arg[0], FEAT & ~(1ULL << 5));
	cr_expect_eq(rd(VIO_C_STATUS, 1) & VIO_S_FEATURES_OK, VIO_S_FEATURES_OK);
	wr(VIO_C_MSIX_CONFIG, 2, 0);
	for (unsigned i = 0; i < rd(VIO_C_NUM_QUEUES, 2); i++) {
		wr(VIO_C_Q_SELECT, 2, i);
		cr_expect_eq(rd(VIO_C_Q_SIZE, 2), 256);
		cr_expect_eq(rd(VIO_C_Q_ENABLE, 2), 0);
		wr(VIO_C_Q_SIZE, 2, 256);
		wr(VIO_C_Q_DESC, 4, 0x10000 * (i + 1));
		wr(VIO_C_Q_DESC + 4, 4, 0);
		wr(VIO_C_Q_DRIVER, 4, 0x10000 * (i + 1) + 0x1000);
		wr(VIO_C_Q_DRIVER + 4, 4, 0);
		wr(VIO_C_Q_DEVICE, 4, 0x10000 * (i + 1) + 0x2000);
		wr(VIO_C_Q_DEVICE + 4, 4, 0);
		wr(VIO_C_Q_MSIX, 2, i + 1);
		cr_expect_eq(rd(VIO_C_Q_MSIX, 2), i + 1 < NVEC ? i + 1 : VIO_NO_VECTOR);
		cr_expect_eq(rd(VIO_C_Q_NOTIFY_OFF, 2), i);
		cr_expect_eq(wr(VIO_C_Q_ENABLE, 2, 1), MICA_IOREQ_QUEUE);
		cr_expect_eq(ev.queue, i);
		cr_expect_eq(ev.size, 256);
		cr_expect_eq(ev.arg[0], 0x10000 * (i + 1));
		cr_expect_eq(ev.arg[1], 0x10000 * (i + 1) + 0x1000);
		cr_expect_eq(ev.arg[2], 0x10000 * (i + 1) + 0x2000);
	}
	cr_expect_eq(status(0x0F), MICA_IOREQ_DRIVER_OK);
	cr_expect_eq(ev.arg[0], FEAT & ~(1ULL << 5));
	for (unsigned i = 0; i < 3; i++)
		cr_expect_eq(vio_notify_ok(&d, i), 1);
}

Test(vio, detach_before_any_backend_leaves_a_waiting_driver_alone)
{
	struct vio d;
	struct vio_event ev;

	vio_init(&d, 3, 2);
	/* The driver starts before the service: ACKNOWLEDGE | DRIVER, features read 0. */
	vio_common_write(&d, VIO_C_STATUS, 1, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER, &ev);
	cr_expect_eq(vio_detach(&d), 0, "no backend was lost");
	cr_expect_eq(vio_common_read(&d, VIO_C_STATUS, 1), VIO_S_ACKNOWLEDGE | VIO_S_DRIVER,
		     "no NEEDS_RESET");
	cr_expect_eq(vio_isr_read(&d), 0);
}
