/*
 * test_xmpp.c - the XMPP plugins (plugins/xmpp*.c): the legacy side's
 * stream header, talking a server up to TLS with <starttls/>, tlshim's
 * answer, the relay and the cleartext gate, run through the real session
 * core against scripted servers (harness.c).  Also the pieces the
 * plugins lean on: the restricted XML reader alone, reference identities
 * in certificates (DNS-ID, SRV-ID, XmppAddr) and the SRV order.
 *
 * The negotiation cases follow the attack catalogue's section 8
 * (STARTTLS-ATTACKS.md): <starttls/> stripped, <failure/>, bytes after
 * <proceed/> in the same read and in a separate segment, restricted XML
 * (DTD, billion laughs, comments, processing instructions) from either
 * side, deep nesting, oversized elements, namespace tricks.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "plugins/xmpp_xml.h"
#include "shim/result.h"
#include "shim/srv.h"
#include "shim/tls.h"
#include "shim/tls_vcache.h"
#include "tests/unit/harness.h"

#define WAIT	10000
#define XC	"protocol = xmpp-client\n"
#define XS	"protocol = xmpp-server\n"
#define NS_S	"xmlns:stream='http://etherx.jabber.org/streams'"
#define TLSNS	"urn:ietf:params:xml:ns:xmpp-tls"

/* The legacy client's header, and the one tlshim sends upstream for it. */
#define C_HDR	"<?xml version='1.0'?><stream:stream to='mx.test' " \
		"version='1.0' xmlns='jabber:client' " NS_S ">"
#define UP_HDR	"<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
		NS_S " to='mx.test' version='1.0'>"
#define S_HDR(id) "<?xml version='1.0'?><stream:stream " \
		"xmlns='jabber:client' " NS_S " from='mx.test' id='" id "' " \
		"version='1.0' xml:lang='en'>"
#define F_TLS	"<stream:features><starttls xmlns='" TLSNS "'><required/>" \
		"</starttls></stream:features>"
#define MECHS	"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" \
		"<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN" \
		"</mechanism></mechanisms>"
#define F_SASL	"<stream:features>" MECHS "</stream:features>"
#define STARTTLS "<starttls xmlns='" TLSNS "'/>"
#define PROCEED	"<proceed xmlns='" TLSNS "'/>"

#define OPEN	P_EXPECT_DATA(UP_HDR)
#define TO_PROCEED OPEN, P_SEND(S_HDR("s1") F_TLS), P_EXPECT_DATA(STARTTLS)
#define TLS_UP	TO_PROCEED, P_SEND(PROCEED), P_TLS(H_CERT_GOOD), OPEN, \
		P_SEND(S_HDR("s2") F_SASL)

/* ---------------------------------------------------------- helpers */

/* opened - connect and open the stream to mx.test; tlshim's answer up
 * to the end of its features */
static const char *
opened(struct harness *h)
{
	const char *r;

	h_connect(h);
	h_send(h, C_HDR);
	if ((r = h_read_until(h, "</stream:features>", WAIT)) == NULL)
		fail_msg("no features from tlshim");
	return r;
}

/* refused - connect, send hdr, and read everything until tlshim closes:
 * a stream header and one stream error with cond, nothing else */
static const char *
refused(struct harness *h, const char *hdr, const char *cond)
{
	const char *all;
	char want[128];

	h_connect(h);
	h_send(h, hdr);
	all = h_read_all(h, WAIT, NULL);
	h_assert_has(all, "<stream:stream ");
	snprintf(want, sizeof(want), "<stream:error><%s xmlns='"
	    "urn:ietf:params:xml:ns:xmpp-streams'/><text ", cond);
	h_assert_has(all, want);
	h_assert_has(all, ">tlshim: ");
	h_assert_has(all, "</stream:error></stream:stream>");
	h_assert_not_has(all, "<stream:features");
	return all;
}

/* upstream_refused - start with svc and script, which ends the
 * negotiation: the client's stream is refused as a failed remote
 * connection, the record says r, and the script held */
static const struct outcome *
upstream_refused(struct harness *h, const char *svc,
    const struct h_step *script, enum result r)
{
	h_start(h, svc, script);
	refused(h, C_HDR, "remote-connection-failed");
	return h_finish(h, r);
}

/* ------------------------------------------------ the whole session */

static void
starttls_verify_full_session(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT_DATA("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
		    "mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"),
		P_SEND("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
		P_EXPECT_DATA("</stream:stream>"),
		P_SEND("</stream:stream>"),
		P_CLOSE(),
		P_END
	};
	const struct outcome *o;
	const char *r;

	h_start(h, XC "security = verify\n", script);
	r = opened(h);
	/* tlshim's header: from the domain, with the server's new stream
	 * id, then the features inside TLS without <starttls/>. */
	h_assert_prefix(r, "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' " NS_S " id='s2' from='mx.test' "
	    "xml:lang='en' version='1.0'>");
	h_assert_has(r, "<stream:features>" MECHS "</stream:features>");
	h_assert_not_has(r, "starttls");
	h_assert_not_has(r, "'s1'");
	h_send(h, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
	r = h_read_until(h, "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>", WAIT);
	if (r == NULL)
		fail_msg("the server's answer was not relayed");
	assert_string_equal(r, "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>");
	h_send(h, "</stream:stream>");
	assert_true(h_eof(h, WAIT));
	h_close(h);
	o = h_finish(h, RES_TLS);
	assert_int_equal(o->auth, AUTH_PKIX);
	assert_true(o->starttls_offered);
	assert_string_equal(o->domain, "mx.test");
	assert_string_equal(o->peer, "127.0.0.1");
	assert_string_equal(o->name_source, "config");
	assert_string_equal(o->protocol, "xmpp-client");
	/* The credentials went inside TLS only. */
	assert_non_null(strstr(h_peer_conn(h, 0)->text.p +
	    h_peer_conn(h, 0)->tls_at, "AGFsaWNlAHNlY3JldA=="));
	assert_null(memmem(h_peer_conn(h, 0)->raw.p,
	    h_peer_conn(h, 0)->raw.len, "AGFsaWNl", 8));
}

/* The certificate must name the domain the client asked for, not the
 * host connected to (catalogue XC-09). */
static void
verify_checks_the_domain(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_EXPECT_DATA("<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:client' " NS_S " to='other.example' "
		    "version='1.0'>"),
		P_SEND(S_HDR("s1") F_TLS), P_EXPECT_DATA(STARTTLS),
		P_SEND(PROCEED), P_TLS(H_CERT_GOOD),
		P_END
	};
	const struct outcome *o;

	h_start(h, XC "security = verify\n", script);
	refused(h, "<stream:stream to='other.example' version='1.0' "
	    "xmlns='jabber:client' " NS_S ">", "remote-connection-failed");
	o = h_finish(h, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_CERT);
	h_assert_has(o->reason, "other.example");
	assert_string_equal(o->domain, "other.example");
}

/* The chain's verdict is kept (tls_vcache.c) and taken by the next
 * session with the same server; the names are still matched each time,
 * so a domain the certificate does not name is refused all the same. */
static void
verdict_kept_names_checked(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP, P_EXPECT_DATA("</stream:stream>"),
		P_SEND("</stream:stream>"), P_CLOSE(),
		P_ACCEPT(), TLS_UP, P_EXPECT_DATA("</stream:stream>"),
		P_SEND("</stream:stream>"), P_CLOSE(),
		P_ACCEPT(),
		P_EXPECT_DATA("<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:client' " NS_S " to='other.example' "
		    "version='1.0'>"),
		P_SEND(S_HDR("s1") F_TLS), P_EXPECT_DATA(STARTTLS),
		P_SEND(PROCEED), P_TLS(H_CERT_GOOD),
		P_END
	};
	const struct outcome *o;
	uint64_t h0, m0, h1, m1;

	tls_vcache_clear();
	tls_vcache_stats(&h0, &m0);
	h_start(h, XC "security = verify\n", script);
	for (int i = 0; i < 2; i++) {
		opened(h);
		h_send(h, "</stream:stream>");
		assert_true(h_eof(h, WAIT));
		h_close(h);
		o = h_outcome_n(h, i, WAIT);
		h_assert_result(o, RES_TLS);
		assert_int_equal(o->auth, AUTH_PKIX);
	}
	tls_vcache_stats(&h1, &m1);
	assert_int_equal(m1 - m0, 1);		/* verified once */
	assert_int_equal(h1 - h0, 1);		/* then taken */
	refused(h, "<stream:stream to='other.example' version='1.0' "
	    "xmlns='jabber:client' " NS_S ">", "remote-connection-failed");
	o = h_outcome_n(h, 2, WAIT);
	h_assert_result(o, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_CERT);
	h_assert_has(o->reason, "does not name it");
	tls_vcache_stats(&h1, &m1);
	assert_int_equal(h1 - h0, 2);		/* the chain: the same verdict */
	h_assert_peer_ok(h);
}

/* Bytes the client sends right after its header wait for the relay. */
static void
early_bytes_relayed_after_answer(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TLS_UP,
		P_EXPECT_DATA("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
		    "mechanism='PLAIN'>AA==</auth>"),
		P_END
	};

	h_start(h, XC "security = encrypt\n", script);
	h_connect(h);
	h_send(h, C_HDR "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AA==</auth>");
	if (h_read_until(h, "</stream:features>", WAIT) == NULL)
		fail_msg("no features");
	h_close(h);
	h_finish(h, RES_TLS);
}

/* ----------------------------------------------- STARTTLS negotiation */

static void
starttls_missing_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") F_SASL),
		P_EXPECT_DATA("</stream:stream>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_NO_TLS);
	assert_false(o->starttls_offered);
	h_assert_has(o->reason, "STARTTLS not offered");
	h_assert_not_has(h_peer_text(h, 0), "auth");
}

/* Under may the stream goes on in plaintext, but credentials stay home:
 * no way to send them is offered, and one sent anyway ends the stream
 * before it reaches the server. */
static void
starttls_missing_may_gated(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") "<stream:features>" MECHS
		    "<ver xmlns='urn:xmpp:features:rosterver'/>"
		    "</stream:features>"),
		P_EXPECT_DATA("<iq type='get' id='1'><query "
		    "xmlns='jabber:iq:version'/></iq>"),
		P_SEND("<iq type='result' id='1'/>"),
		P_EXPECT_DATA("</stream:stream>"),
		P_END
	};
	const struct outcome *o;
	const char *r, *all;

	h_start(h, XC "security = may\n", script);
	r = opened(h);
	h_assert_has(r, " id='s1' from='mx.test'");
	h_assert_has(r, "<stream:features><ver xmlns='urn:xmpp:features:"
	    "rosterver'/></stream:features>");
	h_assert_not_has(r, "mechanisms");
	/* A harmless stanza in two pieces, then credentials. */
	h_send(h, "<iq type='get' id='1'><query xml");
	h_send(h, "ns='jabber:iq:version'/></iq>");
	if (h_read_until(h, "<iq type='result' id='1'/>", WAIT) == NULL)
		fail_msg("the server's answer was not relayed");
	h_send(h, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
	all = h_read_all(h, WAIT, NULL);
	h_assert_has(all, "<stream:error><policy-violation ");
	o = h_finish(h, RES_PLAINTEXT);
	h_assert_has(o->reason, "credentials are not sent in cleartext");
	h_assert_not_has(h_peer_text(h, 0), "AGFsaWNl");
	h_assert_not_has(h_peer_text(h, 0), "<auth");
}

static void
failure_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_PROCEED,
		P_SEND("<failure xmlns='" TLSNS "'/></stream:stream>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = may\n", script, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_NO_TLS);
	h_assert_has(o->reason, "<failure/>");
}

static void
proceed_injection_same_read(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_PROCEED,
		P_SEND(PROCEED "<stream:features>" MECHS "</stream:features>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_ATTACK);
	assert_int_equal(o->cause, CAUSE_INJECTION);
	h_assert_has(o->reason, "injection");
	assert_false(h_peer_conn(h, 0)->tls);
}

/* Even one white space byte after <proceed/> (RFC 6120 5.3.3). */
static void
proceed_injection_whitespace(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_PROCEED, P_SEND(PROCEED " "), P_END
	};

	assert_int_equal(upstream_refused(h, XC "security = encrypt\n",
	    script, RES_ATTACK)->cause, CAUSE_INJECTION);
}

static void
proceed_injection_separate_segment(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_PROCEED, P_SEND(PROCEED),
		P_WAIT_DATA(),		/* the ClientHello: tlshim is in TLS */
		P_SEND("<stream:features>" MECHS "</stream:features>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_ATTACK);
	assert_int_equal(o->cause, CAUSE_INJECTION);
}

/* <proceed/> with the features: sent before <starttls/> could arrive. */
static void
proceed_before_starttls(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") F_TLS PROCEED), P_END
	};

	assert_int_equal(upstream_refused(h, XC "security = encrypt\n",
	    script, RES_ATTACK)->cause, CAUSE_INJECTION);
}

/* Namespace tricks: a <proceed/> that is not in the TLS namespace, a
 * <starttls/> in another, features in another. */
static void
proceed_wrong_namespace(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		TO_PROCEED, P_SEND("<proceed/>"), P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_FAILED);
	h_assert_has(o->reason, "<proceed xmlns='jabber:client'>");
	assert_false(h_peer_conn(h, 0)->tls);
}

static void
starttls_wrong_namespace_not_offered(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") "<stream:features><starttls "
		    "xmlns='urn:ietf:params:xml:ns:xmpp-tls-not'/>"
		    "</stream:features>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_REFUSED);
	assert_false(o->starttls_offered);
	assert_int_equal(o->cause, CAUSE_NO_TLS);
}

static void
features_wrong_namespace(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") "<stream:features xmlns:stream="
		    "'urn:evil'><starttls xmlns='" TLSNS "'/>"
		    "</stream:features>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_FAILED);
	h_assert_has(o->reason, "urn:evil");
	h_assert_not_has(h_peer_text(h, 0), "<starttls");
}

static void
server_wrong_stream_namespace(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND("<stream:stream xmlns='jabber:server' " NS_S
		    " id='x' version='1.0'>"),
		P_EXPECT_DATA("<stream:error><invalid-namespace"),
		P_END
	};

	h_assert_has(upstream_refused(h, XC "security = encrypt\n",
	    script, RES_FAILED)->reason, "jabber:server");
}

/* A server without version (pre-XMPP 1.0) has no STARTTLS. */
static void
pre10_server_encrypt_refused(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND("<stream:stream xmlns='jabber:client' " NS_S
		    " id='old' from='mx.test'>"),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_REFUSED);
	assert_int_equal(o->cause, CAUSE_NO_TLS);
	h_assert_has(o->reason, "pre-XMPP 1.0");
}

/* Under may the client is answered as a pre-1.0 server would be. */
static void
pre10_server_may_plaintext(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND("<stream:stream xmlns='jabber:client' " NS_S
		    " id='old' from='mx.test'>"),
		P_EXPECT_DATA("<iq type='get' id='v'/>"),
		P_END
	};
	const char *r;

	h_start(h, XC "security = may\n", script);
	h_connect(h);
	h_send(h, C_HDR);
	r = h_read_until(h, ">", WAIT);
	r = h_read_until(h, ">", WAIT);
	h_assert_has(r, "<stream:stream ");
	h_assert_has(r, "id='old'");
	h_assert_not_has(r, "version=");
	h_send(h, "<iq type='get' id='v'/>");
	h_close(h);
	h_assert_peer_ok(h);
	assert_int_equal(h_outcome(h, WAIT)->result, RES_PLAINTEXT);
}

/* ---------------------------------------------------- restricted XML */

/* What a server sends that RFC 6120 11.1 forbids: the stream ends with
 * <restricted-xml/> toward it, and the client gets a stream error. */
static void
server_restricted(struct harness *h, const char *what)
{
	const struct h_step script[] = {
		OPEN, P_SENDS(what),
		P_EXPECT_DATA("<stream:error><restricted-xml "),
		P_END
	};
	const struct outcome *o;

	o = upstream_refused(h, XC "security = encrypt\n", script, RES_FAILED);
	h_assert_has(o->reason, "restricted-xml");
}

static void
server_dtd_billion_laughs(void **state)
{
	server_restricted(*state, "<?xml version='1.0'?><!DOCTYPE s ["
	    "<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>"
	    "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><stream:stream "
	    "xmlns='jabber:client' " NS_S " from='&c;' id='x' "
	    "version='1.0'>");
}

static void
server_entity_reference(void **state)
{
	server_restricted(*state, S_HDR("s1") "<stream:features><starttls "
	    "xmlns='" TLSNS "'>&x;</starttls></stream:features>");
}

static void
server_comment(void **state)
{
	server_restricted(*state, S_HDR("s1") "<!-- hello -->" F_TLS);
}

static void
server_processing_instruction(void **state)
{
	server_restricted(*state, S_HDR("s1") "<stream:features>"
	    "<?php phpinfo(); ?></stream:features>");
}

/* The client's side: its header is all tlshim reads of it, and nothing
 * is connected before it is read. */
static void
client_restricted(struct harness *h, const char *hdr)
{
	const struct outcome *o;

	h_start_opt(h, XC "security = encrypt\n", NULL, H_NO_PEER);
	refused(h, hdr, "restricted-xml");
	o = h_result(h, RES_FAILED);
	assert_int_equal(o->cause, CAUSE_PROTOCOL);
	h_assert_has(o->reason, "client");
	assert_string_equal(o->addr, "");
}

static void
client_dtd_external_entity(void **state)
{
	client_restricted(*state, "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY "
	    "e SYSTEM 'file:///etc/passwd'>]><stream:stream to='&e;' "
	    "version='1.0' xmlns='jabber:client' " NS_S ">");
}

static void
client_comment(void **state)
{
	client_restricted(*state, "<!-- hi --><stream:stream to='mx.test' "
	    "version='1.0' xmlns='jabber:client' " NS_S ">");
}

static void
client_processing_instruction(void **state)
{
	client_restricted(*state, "<?pi x?><stream:stream to='mx.test' "
	    "version='1.0' xmlns='jabber:client' " NS_S ">");
}

static void
client_entity_in_attribute(void **state)
{
	client_restricted(*state, "<stream:stream to='mx.test&lol;' "
	    "version='1.0' xmlns='jabber:client' " NS_S ">");
}

/* The five predefined entities and character references are fine. */
static void
client_predefined_entities_ok(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_EXPECT_DATA("<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:client' " NS_S " to='mx.test' "
		    "xml:lang='a&amp;b' version='1.0'>"),
		P_END
	};

	h_start(h, XC "security = encrypt\n", script);
	h_connect(h);
	h_send(h, "<stream:stream to='m&#120;.test' xml:lang='a&amp;b' "
	    "version='1.0' xmlns='jabber:client' " NS_S ">");
	h_assert_peer_ok(h);
	h_close(h);
}

/* ------------------------------------------------------------ bounds */

static void
server_deep_nesting(void **state)
{
	struct harness *h = *state;
	char deep[4096];
	size_t n = 0;

	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s",
	    S_HDR("s1") "<stream:features>");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	struct h_step script[] = {
		OPEN, P_SENDS(deep),
		P_EXPECT_DATA("<stream:error><policy-violation "), P_END
	};
	h_assert_has(upstream_refused(h, XC "security = encrypt\n",
	    script, RES_FAILED)->reason, "nested deeper");
}

static void
server_oversized_features(void **state)
{
	struct harness *h = *state;
	size_t big = 80 * 1024, n;
	char *f = malloc(big + 512);

	assert_non_null(f);
	n = (size_t)sprintf(f, "%s", S_HDR("s1") "<stream:features><x "
	    "xmlns='urn:x'>");
	memset(f + n, 'A', big);
	f[n + big] = '\0';
	struct h_step script[] = {
		OPEN, P_SENDS(f),
		P_EXPECT_DATA("<stream:error><policy-violation "), P_END
	};
	h_start(h, XC "security = encrypt\n", script);
	free(f);		/* the harness copied the script */
	refused(h, C_HDR, "remote-connection-failed");
	h_assert_has(h_finish(h, RES_FAILED)->reason, "larger than");
}

static void
server_too_many_attributes(void **state)
{
	struct harness *h = *state;
	char hdr[2048];
	size_t n;

	n = (size_t)snprintf(hdr, sizeof(hdr), "%s", S_HDR("s1")
	    "<stream:features><x xmlns='urn:x'");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, " a%d='1'", i);
	snprintf(hdr + n, sizeof(hdr) - n, "/></stream:features>");
	struct h_step script[] = {
		OPEN, P_SENDS(hdr),
		P_EXPECT_DATA("<stream:error><policy-violation "), P_END
	};
	h_assert_has(upstream_refused(h, XC "security = encrypt\n",
	    script, RES_FAILED)->reason, "attributes");
}

/* An oversized stanza from the client on a gated cleartext leg. */
static void
client_oversized_stanza_gated(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		OPEN, P_SEND(S_HDR("s1") "<stream:features/>"), P_END
	};
	/* Just past the gate's 256 KiB: tlshim reads all of it before it
	 * refuses, so its close carries no reset that could eat the
	 * stream error. */
	size_t big = 256 * 1024 + 100;
	char *m = malloc(big + 64);
	const char *all;

	assert_non_null(m);
	h_start(h, XC "security = may\n", script);
	h_connect(h);
	h_send(h, C_HDR);
	if (h_read_until(h, "<stream:features/>", WAIT) == NULL &&
	    h_read_until(h, "</stream:features>", WAIT) == NULL)
		fail_msg("no features");
	strcpy(m, "<message><body>");
	memset(m + 15, 'x', big);
	m[15 + big] = '\0';
	h_send(h, m);
	free(m);
	all = h_read_all(h, WAIT, NULL);
	h_assert_has(all, "<stream:error><policy-violation ");
	h_assert_peer_ok(h);
	h_assert_not_has(h_peer_text(h, 0), "<message>");
}

/* --------------------------------------------------- the client's header */

static void
client_header_without_to(void **state)
{
	struct harness *h = *state;

	h_start_opt(h, XC "security = encrypt\n", NULL, H_NO_PEER);
	refused(h, "<stream:stream version='1.0' xmlns='jabber:client' " NS_S
	    ">", "host-unknown");
	h_assert_has(h_outcome(h, WAIT)->reason, "no 'to'");
}

static void
client_header_wrong_namespace(void **state)
{
	struct harness *h = *state;

	h_start_opt(h, XC "security = encrypt\n", NULL, H_NO_PEER);
	refused(h, "<stream:stream to='mx.test' version='1.0' "
	    "xmlns='jabber:server' " NS_S ">", "invalid-namespace");
}

static void
client_header_address_not_domain(void **state)
{
	struct harness *h = *state;

	h_start_opt(h, XC "security = encrypt\n", NULL, H_NO_PEER);
	refused(h, "<stream:stream to='192.0.2.1' version='1.0' "
	    "xmlns='jabber:client' " NS_S ">", "host-unknown");
}

/* A client that says nothing is cut after connect_timeout. */
static void
client_silent_timeout(void **state)
{
	struct harness *h = *state;
	const struct outcome *o;
	const char *all;

	h_start_opt(h, XC "connect_timeout = 1s\n", NULL, H_NO_PEER);
	h_connect(h);
	all = h_read_all(h, WAIT, NULL);
	h_assert_has(all, "<stream:error><remote-connection-failed ");
	o = h_outcome(h, WAIT);
	assert_int_equal(o->cause, CAUSE_TIMEOUT);
}

/* --------------------------------------------------------------- s2s */

/* The legacy server's from and to, and its dialback namespace, go into
 * the upstream header; the answer carries the server's stream id, which
 * dialback keys are computed over; <db:result/> passes untouched. */
static void
s2s_dialback_passes(void **state)
{
	struct harness *h = *state;
	static const struct h_step script[] = {
		P_EXPECT_DATA("<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:server' " NS_S " to='mx.test' "
		    "xmlns:db='jabber:server:dialback' from='legacy.test' "
		    "version='1.0'>"),
		P_SEND("<stream:stream xmlns='jabber:server' " NS_S
		    " xmlns:db='jabber:server:dialback' id='d1' "
		    "version='1.0'>" F_TLS),
		P_EXPECT_DATA(STARTTLS), P_SEND(PROCEED), P_TLS(H_CERT_GOOD),
		P_EXPECT_DATA("<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:server' " NS_S " to='mx.test' "
		    "xmlns:db='jabber:server:dialback' from='legacy.test' "
		    "version='1.0'>"),
		P_SEND("<stream:stream xmlns='jabber:server' " NS_S
		    " xmlns:db='jabber:server:dialback' id='d2' "
		    "version='1.0'><stream:features><dialback "
		    "xmlns='urn:xmpp:features:dialback'/></stream:features>"),
		P_EXPECT_DATA("<db:result from='legacy.test' to='mx.test'>"
		    "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6f"
		    "</db:result>"),
		P_SEND("<db:result from='mx.test' to='legacy.test' "
		    "type='valid'/>"),
		P_END
	};
	const struct outcome *o;
	const char *r;

	h_start(h, XS "security = verify\n", script);
	h_connect(h);
	h_send(h, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
	    NS_S " xmlns:db='jabber:server:dialback' from='legacy.test' "
	    "to='mx.test' version='1.0'>");
	r = h_read_until(h, "</stream:features>", WAIT);
	h_assert_has(r, "xmlns='jabber:server'");
	h_assert_has(r, "xmlns:db='jabber:server:dialback'");
	h_assert_has(r, " id='d2' from='mx.test' to='legacy.test' ");
	h_assert_has(r, "<dialback xmlns='urn:xmpp:features:dialback'/>");
	h_send(h, "<db:result from='legacy.test' to='mx.test'>"
	    "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6f"
	    "</db:result>");
	if (h_read_until(h, "type='valid'/>", WAIT) == NULL)
		fail_msg("the dialback answer was not relayed");
	h_close(h);
	o = h_finish(h, RES_TLS);
	assert_string_equal(o->protocol, "xmpp-server");
	assert_int_equal(o->auth, AUTH_PKIX);
}

/* ------------------------------------------------ the reader on its own */

struct events {
	int	 open, elements, close;
	char	 last[64];
};

static bool
count_event(void *ctx, struct xstream *x, enum xs_ev ev)
{
	struct events *e = ctx;

	if (ev == XS_OPEN)
		e->open++;
	else if (ev == XS_ELEMENT) {
		e->elements++;
		snprintf(e->last, sizeof(e->last), "%s", x->el.local);
		return strcmp(x->el.local, "proceed") == 0;
	} else
		e->close++;
	return false;
}

/* Fed one byte at a time, the reader stops exactly after <proceed/>,
 * and an element's children and raw bytes are where they were. */
static void
reader_byte_by_byte(void **state)
{
	static const char in[] = "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' " NS_S " id='i' version='1.0'>"
	    " <stream:features><starttls xmlns='" TLSNS "'><required/>"
	    "</starttls><b xmlns='urn:b'/></stream:features>\n" PROCEED
	    "JUNK";
	const struct xs_limits lim = { 16, 32, 4096 };
	struct xstream x;
	struct events e;
	size_t used = 0, off = 0;
	enum xs_res r = XS_MORE;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_true(xs_init(&x, &lim, count_event, &e));
	while (off < sizeof(in) - 1 && r == XS_MORE) {
		r = xs_feed(&x, in + off, 1, &used);
		off += used;
		if (e.elements == 1 && e.open == 1) {
			assert_int_equal(x.el.nkids, 2);
			assert_true(x.el.kid[0].required);
			assert_string_equal(x.el.kid[1].ns, "urn:b");
			e.open++;	/* checked once */
		}
	}
	assert_int_equal(r, XS_STOPPED);
	assert_string_equal(e.last, "proceed");
	assert_string_equal(in + off, "JUNK");
	xs_free(&x);

	/* The same in one piece: used stops at the same byte. */
	memset(&e, 0, sizeof(e));
	assert_true(xs_init(&x, &lim, count_event, &e));
	assert_int_equal(xs_feed(&x, in, sizeof(in) - 1, &used), XS_STOPPED);
	assert_string_equal(in + used, "JUNK");
	assert_string_equal(x.open.id, "i");
	assert_string_equal(x.open.default_ns, "jabber:client");
	xs_free(&x);
}

static void
reader_escape(void **state)
{
	char out[64];

	(void)state;
	xs_escape(out, sizeof(out), "a'b\"c<d>e&f");
	assert_string_equal(out, "a&apos;b&quot;c&lt;d&gt;e&amp;f");
	xs_escape(out, 8, "&&&");
	assert_string_equal(out, "&amp;");	/* never half an escape */
}

/* ------------------------------------------- identities in certificates */

/* make_leaf - a self-signed certificate with the given SANs, as DER */
static gnutls_datum_t
make_leaf(const char *dns, const char *srv, const char *xmpp)
{
	gnutls_x509_crt_t c;
	gnutls_x509_privkey_t k;
	gnutls_datum_t der = { NULL, 0 };
	unsigned char serial[1] = { 7 }, ia5[300];

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	gnutls_x509_crt_set_key(c, k);
	gnutls_x509_crt_set_version(c, 3);
	gnutls_x509_crt_set_serial(c, serial, 1);
	gnutls_x509_crt_set_activation_time(c, time(NULL) - 60);
	gnutls_x509_crt_set_expiration_time(c, time(NULL) + 3600);
	gnutls_x509_crt_set_dn(c, "CN=leaf.example", NULL);
	if (dns != NULL)
		gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME,
		    dns, (unsigned)strlen(dns), GNUTLS_FSAN_APPEND);
	if (srv != NULL) {
		/* SRVName is an IA5String (RFC 4985). */
		ia5[0] = 0x16;
		ia5[1] = (unsigned char)strlen(srv);
		memcpy(ia5 + 2, srv, strlen(srv));
		assert_int_equal(gnutls_x509_crt_set_subject_alt_othername(c,
		    "1.3.6.1.5.5.7.8.7", ia5, (unsigned)strlen(srv) + 2,
		    GNUTLS_FSAN_APPEND), 0);
	}
	if (xmpp != NULL)
		gnutls_x509_crt_set_subject_alt_name(c,
		    GNUTLS_SAN_OTHERNAME_XMPP, xmpp, (unsigned)strlen(xmpp),
		    GNUTLS_FSAN_APPEND);
	assert_int_equal(gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0),
	    0);
	assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der),
	    0);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_privkey_deinit(k);
	return der;
}

static int
match(gnutls_datum_t *leaf, const char *domain)
{
	char srvid[300];
	struct tls_refid ids[3] = {
		{ TLS_ID_DNS, domain }, { TLS_ID_SRV, srvid },
		{ TLS_ID_XMPP, domain }
	};

	snprintf(srvid, sizeof(srvid), "_xmpp-client.%s", domain);
	return tls_ids_match(leaf, ids, 3);
}

static void
identities(void **state)
{
	gnutls_datum_t d;

	(void)state;
	d = make_leaf("example.org", NULL, NULL);
	assert_int_equal(match(&d, "example.org"), 0);
	assert_int_equal(match(&d, "EXAMPLE.org"), 0);
	assert_int_equal(match(&d, "other.org"), -1);
	gnutls_free(d.data);
	/* Only an SRV-ID for the service domain (RFC 7590 3.2). */
	d = make_leaf("xmpp1.hosting.example", "_xmpp-client.example.org",
	    NULL);
	assert_int_equal(match(&d, "example.org"), 1);
	assert_int_equal(match(&d, "hosting.example"), -1);
	gnutls_free(d.data);
	/* An SRV-ID for another service does not do. */
	d = make_leaf(NULL, "_xmpp-server.example.org", NULL);
	assert_int_equal(match(&d, "example.org"), -1);
	gnutls_free(d.data);
	/* XmppAddr of the bare domain; never of a user's address. */
	d = make_leaf(NULL, NULL, "example.org");
	assert_int_equal(match(&d, "example.org"), 2);
	gnutls_free(d.data);
	d = make_leaf(NULL, NULL, "alice@example.org");
	assert_int_equal(match(&d, "example.org"), -1);
	gnutls_free(d.data);
	/* A wildcard DNS-ID covers one label. */
	d = make_leaf("*.example.org", NULL, NULL);
	assert_int_equal(match(&d, "chat.example.org"), 0);
	assert_int_equal(match(&d, "example.org"), -1);
	gnutls_free(d.data);
}

/* --------------------------------------------------------- SRV order */

static void
srv_ordering(void **state)
{
	struct srv_rec r[4];
	size_t order[4], n, first_b = 0;

	(void)state;
	memset(r, 0, sizeof(r));
	strcpy(r[0].target, "c.example");
	r[0].prio = 20;
	strcpy(r[1].target, "a.example");
	r[1].prio = 10;
	r[1].weight = 65535;
	strcpy(r[2].target, "b.example");
	r[2].prio = 10;
	r[2].weight = 0;
	r[3].target[0] = '\0';		/* "." never comes */
	r[3].prio = 0;
	for (int i = 0; i < 200; i++) {
		n = srv_order(r, 4, order, 4);
		assert_int_equal(n, 3);
		assert_int_equal(order[2], 0);	/* priority 20 last */
		assert_true(order[0] == 1 || order[0] == 2);
		if (order[0] == 2)
			first_b++;
	}
	/* Weight 0 against 65535: rarely first, but possible. */
	assert_true(first_b < 20);
	assert_int_equal(srv_order(r, 4, order, 1), 1);
	assert_int_equal(srv_order(r, 0, order, 4), 0);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(starttls_verify_full_session),
		T(verify_checks_the_domain),
		T(verdict_kept_names_checked),
		T(early_bytes_relayed_after_answer),
		T(starttls_missing_encrypt_refused),
		T(starttls_missing_may_gated),
		T(failure_refused),
		T(proceed_injection_same_read),
		T(proceed_injection_whitespace),
		T(proceed_injection_separate_segment),
		T(proceed_before_starttls),
		T(proceed_wrong_namespace),
		T(starttls_wrong_namespace_not_offered),
		T(features_wrong_namespace),
		T(server_wrong_stream_namespace),
		T(pre10_server_encrypt_refused),
		T(pre10_server_may_plaintext),
		T(server_dtd_billion_laughs),
		T(server_entity_reference),
		T(server_comment),
		T(server_processing_instruction),
		T(client_dtd_external_entity),
		T(client_comment),
		T(client_processing_instruction),
		T(client_entity_in_attribute),
		T(client_predefined_entities_ok),
		T(server_deep_nesting),
		T(server_oversized_features),
		T(server_too_many_attributes),
		T(client_oversized_stanza_gated),
		T(client_header_without_to),
		T(client_header_wrong_namespace),
		T(client_header_address_not_domain),
		T(client_silent_timeout),
		T(s2s_dialback_passes),
		cmocka_unit_test(reader_byte_by_byte),
		cmocka_unit_test(reader_escape),
		cmocka_unit_test(identities),
		cmocka_unit_test(srv_ordering),
	};
#undef T
	int rc;

	h_main_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	h_main_done();
	return rc;
}
