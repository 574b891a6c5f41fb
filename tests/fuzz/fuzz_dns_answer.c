/*
 * fuzz_dns_answer.c - libFuzzer target for the DNS answer parser
 * (shim/dns_msg.c).
 *
 * The input is what a hostile network sends back.  Byte 0 picks one of
 * four queries (A, MX, SRV, TLSA: the lookups tlshim makes), bytes 1-2 are
 * the ID it was sent with, and the rest is the datagram.  Beyond what the
 * sanitizers catch, the target checks the parser's promises: a refused or
 * foreign message leaves nothing behind and says why; a truncated one
 * carries only tc; otherwise the status agrees with the rcode and the
 * records, at most DNS_RR_MAX records are kept, names are lower case
 * without the final dot, addresses have the family of their type, TLSA
 * data fits, and the TTL is the smallest of the records'.  The copy made
 * for the cache equals the original.  The same bytes, read as a name, go
 * through dns_name_normalize() and dns_query_build(), whose query must
 * never pass for an answer.  A broken promise is an abort(), which the
 * fuzzer and the replay driver both report.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shim/dns_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static const struct {
	const char	*name;
	uint16_t	 type;
} queries[] = {
	{ "mx1.example.test", DNS_T_A },
	{ "example.test", DNS_T_MX },
	{ "_imaps._tcp.example.test", DNS_T_SRV },
	{ "_25._tcp.mx1.example.test", DNS_T_TLSA },
};

/* check_name - NUL-terminated within the field, lower case, no final dot */
static void
check_name(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	CHECK(n < cap);
	CHECK(n == 0 || s[n - 1] != '.' || (n >= 2 && s[n - 2] == '\\'));
	for (size_t i = 0; i < n; i++)
		CHECK(!(s[i] >= 'A' && s[i] <= 'Z'));
}

/* check_answer - what a DNS_E_OK answer without tc promises */
static void
check_answer(const struct dns_answer *a, uint16_t type)
{
	CHECK(a->status <= DNS_REFUSED);
	CHECK((a->status == DNS_OK) == (a->n > 0));
	CHECK((a->rr != NULL) == (a->n > 0));
	CHECK(a->n <= DNS_RR_MAX);
	CHECK(a->ttl <= 0x7fffffffU);
	check_name(a->cname, sizeof(a->cname));
	switch (a->status) {
	case DNS_OK:
	case DNS_NODATA:
		CHECK(a->rcode == 0);
		break;
	case DNS_NXDOMAIN:
		CHECK(a->rcode == 3);
		break;
	case DNS_SERVFAIL:
		CHECK(a->rcode == 2);
		break;
	default:
		CHECK(a->rcode != 0 && a->rcode != 2 && a->rcode != 3);
		CHECK(a->cname[0] == '\0');
		break;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_rr *rr = &a->rr[i];

		CHECK(a->ttl <= rr->ttl);
		switch (type) {
		case DNS_T_A:
			CHECK(rr->u.a.family == AF_INET);
			break;
		case DNS_T_MX:
			check_name(rr->u.mx.host, sizeof(rr->u.mx.host));
			break;
		case DNS_T_SRV:
			check_name(rr->u.srv.target, sizeof(rr->u.srv.target));
			break;
		case DNS_T_TLSA:
			CHECK(rr->u.tlsa.len <= DNS_TLSA_DATA_MAX);
			break;
		}
	}
}

/* check_build - the input as a name: normalized names are valid and
 * stable, and the query built for one is never taken for its answer */
static void
check_build(const uint8_t *data, size_t size)
{
	char in[300], out[DNS_NAME_MAX], again[DNS_NAME_MAX], err[200];
	struct dns_answer a;
	uint8_t *wire;
	size_t len, n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;

	memcpy(in, data, n);
	in[n] = '\0';
	if (!dns_name_normalize(in, out, sizeof(out)))
		return;
	CHECK(strlen(out) >= 1 && strlen(out) <= 253);
	check_name(out, sizeof(out));
	CHECK(dns_name_normalize(out, again, sizeof(again)));
	CHECK(strcmp(out, again) == 0);
	CHECK(dns_query_build(in, DNS_T_A, 7, true, &wire, &len, err,
	    sizeof(err)));
	CHECK(dns_answer_parse(wire, len, 7, out, DNS_T_A, &a, err,
	    sizeof(err)) == DNS_E_MISMATCH);
	free(wire);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer a, copy;
	enum dns_parse_rc rc;
	char err[256];
	unsigned q;
	uint16_t id;

	check_build(data, size);
	if (size < 3)
		return 0;
	q = data[0] % (sizeof(queries) / sizeof(queries[0]));
	id = (uint16_t)(data[1] << 8 | data[2]);
	rc = dns_answer_parse(data + 3, size - 3, id, queries[q].name,
	    queries[q].type, &a, err, sizeof(err));
	CHECK(rc == DNS_E_OK || rc == DNS_E_MISMATCH || rc == DNS_E_BAD);
	CHECK(strnlen(err, sizeof(err)) < sizeof(err));
	if (rc != DNS_E_OK) {
		CHECK(err[0] != '\0');
		CHECK(a.status == DNS_MALFORMED && a.n == 0 && a.rr == NULL);
		CHECK(!a.tc && !a.ad && a.cname[0] == '\0');
		return 0;
	}
	if (a.tc) {
		CHECK(a.status == DNS_MALFORMED && a.n == 0 && a.rr == NULL);
		return 0;
	}
	check_answer(&a, queries[q].type);
	CHECK(dns_answer_copy(&copy, &a));
	CHECK(copy.n == a.n && copy.status == a.status && copy.ttl == a.ttl);
	CHECK(strcmp(copy.cname, a.cname) == 0);
	CHECK(a.n == 0 || (copy.rr != a.rr &&
	    memcmp(copy.rr, a.rr, a.n * sizeof(*a.rr)) == 0));
	dns_answer_free(&copy);
	dns_answer_free(&a);
	CHECK(a.rr == NULL && a.n == 0);
	return 0;
}
