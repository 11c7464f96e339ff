/* Webhook and e-mail deliveries of crm-worker; see deliver.h.
 *
 * A delivery is two short tenant transactions around one network call: the
 * first reads what to send (delivery_request / email_request) and commits,
 * so no transaction stays open while a remote end takes its time; the second
 * records the attempt (delivery_result / email_result). The send is at least
 * once: a worker killed between the two sends again, so receivers dedupe by
 * X-CRM-Delivery.
 *
 * Webhooks go only to public addresses: the socket callback refuses every
 * loopback, private, link-local, shared, multicast or reserved address curl
 * is about to connect to, whatever the host name resolved to, unless
 * CRM_WEBHOOK_ALLOW_PRIVATE is set (the dev and test stacks). No redirect is
 * followed and no proxy is used, so the address checked is the address
 * reached. Secrets, signatures and URLs (robot URLs carry access tokens)
 * are never logged. */
#include "deliver.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "app/core/config.h"
#include "app/core/db.h"
#include "app/core/json.h"
#include "app/core/log.h"

#define CONNECT_TIMEOUT_MS 5000L
#define WEBHOOK_TIMEOUT_MS 10000L
#define SMTP_TIMEOUT_MS 30000L
#define REQUEST_MAX (1024 * 1024)	/* the JSON a *_request function returns */
#define ANSWER_KEEP 1000	/* bytes of a webhook's answer kept in the log */
#define ERROR_KEEP 500	/* bytes of an error kept (delivery_result cuts there too) */
#define URL_MAX 2000
#define SECRET_MAX 200
#define EVENT_MAX 100
#define ADDRESS_MAX 254
#define SUBJECT_MAX 1000	/* bytes: 200 characters of up to 4 bytes, with room */
#define MAIL_BODY_MAX (256 * 1024)
#define FROM_NAME_MAX 300
#define USER_AGENT "crm-webhooks/1"

static struct db_stmt stmt_delivery_request = DB_STMT("SELECT delivery_request($1)::text", 1);
static struct db_stmt stmt_delivery_result = DB_STMT(
    "SELECT delivery_result($1, $2, $3, $4, $5)", 5);
static struct db_stmt stmt_email_request = DB_STMT("SELECT email_request($1)::text", 1);
static struct db_stmt stmt_email_result = DB_STMT("SELECT email_result($1, $2, $3)", 3);

/* One handle per process, reset before each transfer: it keeps its cache of
 * connections and host names from one delivery to the next. */
static CURL *curl;

/* What delivery_request hands over. */
struct hook {
	const char *kind, *url, *secret, *event, *body;
};

/* What email_request hands over; unsubscribe_url is optional (nurture
 * e-mail: List-Unsubscribe, RFC 2369 and 8058). */
struct mail {
	const char *to, *subject, *body, *from_name, *unsubscribe_url;
};

/* One attempt as it goes into the log. */
struct attempt {
	long status;	/* the HTTP status; 0 when no answer came */
	struct buf answer;	/* its first ANSWER_KEEP bytes */
	bool refused;	/* the address guard refused a connection */
	const char *error;	/* NULL when delivered */
	char curl_error[CURL_ERROR_SIZE];
};

void
deliver_init(void)
{
	if (curl != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0 ||
	    (curl = curl_easy_init()) == NULL) {
		log_error("deliveries: libcurl or libsodium failed to initialize");
		abort();
	}
	if (config.webhook_allow_private)
		log_warn("webhooks may reach private and loopback addresses "
		    "(CRM_WEBHOOK_ALLOW_PRIVATE)");
	if (config.smtp_url[0] == '\0')
		log_warn("e-mail is not configured (CRM_SMTP_URL is empty): e-mail jobs fail");
}

void
deliver_cleanup(void)
{
	if (curl == NULL)
		return;
	curl_easy_cleanup(curl);
	curl = NULL;
	curl_global_cleanup();
}

/* ---------------------------------------------------------------- helpers */

static void
free_json(void *p)
{
	cJSON_Delete(p);
}

static void
free_slist(void *p)
{
	curl_slist_free_all(p);
}

/* The process's handle, reset, with what every transfer shares. */
static CURL *
curl_start(struct attempt *at)
{
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");	/* never a proxy from the environment */
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, at->curl_error);
	at->curl_error[0] = '\0';
	return curl;
}

/* Ends a transfer: its error, if any, copied to the arena (NULL when rc is
 * CURLE_OK), and the handle reset so it keeps no pointer to the attempt, the
 * arena or the stack while it waits for the next one. */
static const char *
curl_finish(struct req *r, const struct attempt *at, CURLcode rc)
{
	const char *error = rc == CURLE_OK ? NULL : arena_strdup(r->arena,
	    at->curl_error[0] != '\0' ? at->curl_error : curl_easy_strerror(rc));

	curl_easy_reset(curl);
	return error;
}

/* Appends s to a header or recipient list; aborts when out of memory. */
static void
slist_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *l = curl_slist_append(*list, s);

	if (l == NULL)
		abort();
	*list = l;
}

/* A list freed with the arena once built. */
static struct curl_slist *
slist_keep(struct req *r, struct curl_slist *list)
{
	arena_cleanup(r->arena, free_slist, list);
	return list;
}

/* The JSON object a *_request function returned, or NULL when it is not one
 * within REQUEST_MAX. */
static cJSON *
request_parse(struct req *r, const char *text)
{
	size_t len = strlen(text);

	if (len > REQUEST_MAX)
		return NULL;
	cJSON *j = cJSON_ParseWithLength(text, len);
	if (j == NULL)
		return NULL;
	arena_cleanup(r->arena, free_json, j);
	return cJSON_IsObject(j) ? j : NULL;
}

/* A string member of 1..max bytes, or NULL. */
static const char *
member_str(const cJSON *obj, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > max)
		return NULL;
	return v->valuestring;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_sequence_at(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (s[0] < 0x80)
		return s[0] == 0 ? 0 : 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80;
		hi = s[0] == 0xED ? 0x9F : 0xBF;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		lo = s[0] == 0xF0 ? 0x90 : 0x80;
		hi = s[0] == 0xF4 ? 0x8F : 0xBF;
	} else
		return 0;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* n bytes of s as text PostgreSQL accepts: every byte that is not part of
 * valid UTF-8 (a cut sequence at the end, binary answers) or is NUL becomes
 * '?'. */
static const char *
text_clean(struct arena *a, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;

	buf_init(&b, a);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_sequence_at(p + i, n - i);

		if (len == 0) {
			buf_add(&b, "?", 1);
			i++;
		} else {
			buf_add(&b, s + i, len);
			i += len;
		}
	}
	return buf_cstr(&b);
}

/* True when s holds a CR or LF (or another control character but tab). */
static bool
has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < ' ' && *p != '\t') || *p == 0x7F)
			return true;
	return false;
}

/* True for an http or https URL without white space or control characters. */
static bool
http_url(const char *s)
{
	if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7F)
			return false;
	return true;
}

/* The error to record and log: the attempt's own words, cut to ERROR_KEEP. */
static const char *
attempt_error(struct req *r, const struct attempt *at)
{
	size_t n = strlen(at->error);

	return text_clean(r->arena, at->error, n > ERROR_KEEP ? ERROR_KEEP : n);
}

/* ---------------------------------------------------------------- address guard */

static bool
ipv4_refused(const unsigned char *b)
{
	static const struct {
		uint32_t net, mask;
	} nets[] = {
		{0x00000000, 0xFF000000},	/* 0/8: this network, unspecified */
		{0x0A000000, 0xFF000000},	/* 10/8: private */
		{0x64400000, 0xFFC00000},	/* 100.64/10: shared (CGNAT) */
		{0x7F000000, 0xFF000000},	/* 127/8: loopback */
		{0xA9FE0000, 0xFFFF0000},	/* 169.254/16: link-local, cloud metadata */
		{0xAC100000, 0xFFF00000},	/* 172.16/12: private */
		{0xC0000000, 0xFFFFFF00},	/* 192.0.0/24: IETF protocol assignments */
		{0xC0A80000, 0xFFFF0000},	/* 192.168/16: private */
		{0xC6120000, 0xFFFE0000},	/* 198.18/15: benchmarking */
		{0xE0000000, 0xE0000000},	/* 224/3: multicast, reserved, broadcast */
	};
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if ((a & nets[i].mask) == nets[i].net)
			return true;
	return false;
}

static bool
ipv6_refused(const unsigned char *b)
{
	static const unsigned char zero[12] = {0};
	static const unsigned char nat64[12] = {0x00, 0x64, 0xFF, 0x9B};

	if (memcmp(b, zero, 10) == 0 && b[10] == 0xFF && b[11] == 0xFF)
		return ipv4_refused(b + 12);	/* ::ffff:a.b.c.d, IPv4-mapped */
	if (memcmp(b, zero, 12) == 0)
		return true;	/* ::, ::1 and the old IPv4-compatible ::a.b.c.d */
	if (memcmp(b, nat64, 12) == 0)
		return ipv4_refused(b + 12);	/* 64:ff9b::/96, NAT64 */
	if (b[0] == 0x20 && b[1] == 0x02)
		return ipv4_refused(b + 2);	/* 2002::/16, 6to4 */
	return (b[0] & 0xFE) == 0xFC	/* fc00::/7: unique local */
	    || (b[0] == 0xFE && (b[1] & 0x80) == 0x80)	/* fe80::/10 link-local, fec0::/10 */
	    || b[0] == 0xFF;	/* ff00::/8: multicast */
}

/* True when a webhook may connect to addr. */
static bool
address_allowed(const struct sockaddr *addr)
{
	const void *a = addr;

	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = a;

		return config.webhook_allow_private ||
		    !ipv4_refused((const unsigned char *)&in->sin_addr.s_addr);
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = a;

		return config.webhook_allow_private || !ipv6_refused(in6->sin6_addr.s6_addr);
	}
	return false;	/* no other family is a webhook's */
}

/* CURLOPT_OPENSOCKETFUNCTION: curl asks for each address it is about to
 * connect to, after name resolution, so a host name that resolves (or is
 * rebound) to an internal address is refused as well. */
static curl_socket_t
open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct attempt *at = ctx;

	if (purpose != CURLSOCKTYPE_IPCXN || !address_allowed(&addr->addr)) {
		at->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* ---------------------------------------------------------------- webhooks */

/* CURLOPT_WRITEFUNCTION: keeps the first ANSWER_KEEP bytes and drops the
 * rest (the total timeout bounds how long an endless answer is read). */
static size_t
keep_answer(char *data, size_t size, size_t n, void *ctx)
{
	struct attempt *at = ctx;
	size_t len = size * n;

	if (at->answer.len < ANSWER_KEEP)
		buf_add(&at->answer, data,
		    len < ANSWER_KEEP - at->answer.len ? len : ANSWER_KEEP - at->answer.len);
	return len;
}

/* HMAC-SHA256 with key over the concatenation of parts (NULL-terminated). */
static void
hmac_sha256(const char *key, const char *const *parts,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	for (int i = 0; parts[i] != NULL; i++)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* Generic webhooks: the signature headers. X-CRM-Signature is
 * sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. */
static void
generic_headers(struct req *r, const struct hook *h, const char *delivery,
    struct curl_slist **headers)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[sizeof(mac) * 2 + 1];
	const char *ts = req_i64(r, (int64_t)time(NULL));

	hmac_sha256(h->secret, (const char *const[]){ts, ".", h->body, NULL}, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	slist_add(headers, arena_printf(r->arena, "X-CRM-Event: %s", h->event));
	slist_add(headers, arena_printf(r->arena, "X-CRM-Delivery: %s", delivery));
	slist_add(headers, arena_printf(r->arena, "X-CRM-Timestamp: %s", ts));
	slist_add(headers, arena_printf(r->arena, "X-CRM-Signature: sha256=%s", hex));
	sodium_memzero(hex, sizeof(hex));
}

/* DingTalk robots with signing on: url&timestamp=<ms>&sign=<urlencoded
 * base64 HMAC-SHA256(secret, "<ms>\n<secret>")>. */
static const char *
dingtalk_url(struct req *r, CURL *c, const struct hook *h, const char *url)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_ORIGINAL)];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	const char *ms = req_i64(r, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	hmac_sha256(h->secret, (const char *const[]){ms, "\n", h->secret, NULL}, mac);
	sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	char *sign = curl_easy_escape(c, b64, 0);
	if (sign == NULL)
		abort();
	const char *out = arena_printf(r->arena, "%s%ctimestamp=%s&sign=%s", url,
	    strchr(url, '?') != NULL ? '&' : '?', ms, sign);
	curl_free(sign);
	return out;
}

/* DingTalk and WeCom robots answer HTTP 200 with {"errcode": N, "errmsg"}:
 * the error when N is not 0, else NULL. */
static const char *
robot_error(struct req *r, const struct attempt *at)
{
	cJSON *j = cJSON_ParseWithLength(at->answer.data, at->answer.len);
	const char *error = NULL;

	if (j == NULL)
		return NULL;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "errcode");
	if (cJSON_IsNumber(code) && code->valuedouble != 0)
		error = arena_printf(r->arena, "the robot answered errcode %.0f", code->valuedouble);
	cJSON_Delete(j);
	return error;
}

/* True when the request is one we can send: an http(s) URL of sane size,
 * an event name and a secret that fit in a header. */
static bool
hook_valid(const struct hook *h)
{
	if (h->kind == NULL || h->url == NULL || h->secret == NULL || h->event == NULL ||
	    h->body == NULL)
		return false;
	if (!http_url(h->url))
		return false;
	for (const char *p = h->event; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		    *p == '.' || *p == '-'))
			return false;
	return strcmp(h->kind, "generic") == 0 || strcmp(h->kind, "dingtalk") == 0 ||
	    strcmp(h->kind, "wecom") == 0;
}

/* POSTs the hook's body; fills at (status, answer, error). */
static void
hook_send(struct req *r, const struct hook *h, const char *delivery, struct attempt *at)
{
	CURL *c = curl_start(at);
	struct curl_slist *headers = NULL;
	/* the fragment is never sent; cut it so DingTalk's parameters stay in the query */
	const char *url = arena_strndup(r->arena, h->url, strcspn(h->url, "#"));

	slist_add(&headers, "Content-Type: application/json; charset=utf-8");
	slist_add(&headers, "Expect:");	/* no 100-continue round trip */
	if (strcmp(h->kind, "generic") == 0)
		generic_headers(r, h, delivery, &headers);
	else if (strcmp(h->kind, "dingtalk") == 0)
		url = dingtalk_url(r, c, h, url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, slist_keep(r, headers));
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(h->body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, at);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, at);

	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &at->status);
	const char *failure = curl_finish(r, at, rc);
	if (at->refused && failure != NULL)
		at->error = "the webhook's host resolves to a private or reserved address, "
			    "which webhooks may not reach";
	else if (failure != NULL)
		at->error = failure;
	else if (at->status < 200 || at->status > 299)
		at->error = arena_printf(r->arena, "the endpoint answered HTTP %ld", at->status);
	else if (strcmp(h->kind, "generic") != 0)
		at->error = robot_error(r, at);
}

static int
run_webhook(struct req *r, int64_t tid, const char *ref, bool last_try)
{
	struct attempt at = {.status = 0};
	struct hook h;

	db_begin(r, tid);
	PGresult *res = DB_EXEC(r, &stmt_delivery_request, DB_COMMIT, ref);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		return 0;	/* gone, or delivered already */
	cJSON *j = request_parse(r, PQgetvalue(res, 0, 0));
	h = (struct hook){
		.kind = member_str(j, "kind", 20),
		.url = member_str(j, "url", URL_MAX),
		.secret = member_str(j, "secret", SECRET_MAX),
		.event = member_str(j, "event", EVENT_MAX),
		.body = member_str(j, "body", REQUEST_MAX),
	};
	buf_init(&at.answer, r->arena);
	bool permanent = j == NULL || !hook_valid(&h);
	if (permanent)
		at.error = "the delivery cannot be sent (its URL, event or body is not valid)";
	else
		hook_send(r, &h, ref, &at);

	const char *error = at.error != NULL ? attempt_error(r, &at) : NULL;
	/* delivery_result takes any 2xx for success: a 2xx that failed all the
	 * same (a robot's errcode, a broken transfer) goes in without its status */
	const char *status = at.status > 0 && (error == NULL || at.status < 200 || at.status > 299) ?
	    req_i64(r, at.status) : NULL;
	db_begin(r, tid);
	if (DB_EXEC(r, &stmt_delivery_result, DB_COMMIT, ref, status,
		text_clean(r->arena, at.answer.data, at.answer.len),
		error, last_try || permanent ? "true" : "false") == NULL) {
		log_warn("delivery %s of tenant %lld: could not record the attempt", ref,
		    (long long)tid);
		return -1;
	}
	if (error == NULL) {
		log_info("delivery %s of tenant %lld: delivered (HTTP %ld)", ref, (long long)tid,
		    at.status);
		return 0;
	}
	log_warn("delivery %s of tenant %lld failed: %s", ref, (long long)tid, error);
	if (permanent)
		return 0;	/* recorded dead: nothing is left to deliver */
	return err_set(&r->err, ERR_DELIVERY_FAILED, error);
}

/* ---------------------------------------------------------------- e-mail */

/* Appends s as RFC 2047 encoded-words (UTF-8, base64), folded onto
 * continuation lines; each word holds whole characters, at most 36 bytes,
 * so no header line passes 78 characters. */
static void
add_encoded_words(struct buf *b, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		size_t n = len - i > 36 ? 36 : len - i;
		char enc[sodium_base64_ENCODED_LEN(36, sodium_base64_VARIANT_ORIGINAL)];

		while (i + n < len && n > 0 && ((unsigned char)s[i + n] & 0xC0) == 0x80)
			n--;	/* never cut a character */
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)s + i, n,
		    sodium_base64_VARIANT_ORIGINAL);
		buf_addf(b, "%s=?UTF-8?B?%s?=", i > 0 ? "\r\n " : "", enc);
		i += n;
	}
}

/* Appends data in base64, 76 characters a line. */
static void
add_base64_lines(struct buf *b, const char *data, size_t len)
{
	char line[sodium_base64_ENCODED_LEN(57, sodium_base64_VARIANT_ORIGINAL)];

	for (size_t i = 0; i < len; i += 57) {
		sodium_bin2base64(line, sizeof(line), (const unsigned char *)data + i,
		    len - i > 57 ? 57 : len - i, sodium_base64_VARIANT_ORIGINAL);
		buf_addf(b, "%s\r\n", line);
	}
}

/* s with its line breaks in the canonical form of text (CRLF, RFC 2045). */
static struct buf
crlf_lines(struct req *r, const char *s)
{
	struct buf b;

	buf_init(&b, r->arena);
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n') {
			buf_add(&b, "\r\n", 2);
			if (s[0] == '\r' && s[1] == '\n')
				s++;
		} else
			buf_add(&b, s, 1);
	}
	return b;
}

/* The RFC 5322 message of m, from address from. */
static const char *
mail_message(struct req *r, const struct mail *m, const char *from)
{
	unsigned char raw[16];
	char id[sizeof(raw) * 2 + 1], date[64];
	time_t now = time(NULL);
	struct tm tm;
	struct buf b;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&b, r->arena);
	buf_adds(&b, "From: ");
	if (m->from_name != NULL) {
		add_encoded_words(&b, m->from_name);
		buf_adds(&b, " ");
	}
	buf_addf(&b, "<%s>\r\nTo: <%s>\r\nSubject: ", from, m->to);
	add_encoded_words(&b, m->subject);
	buf_addf(&b, "\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n", date, id, strchr(from, '@') + 1);
	if (m->unsubscribe_url != NULL)
		buf_addf(&b, "List-Unsubscribe: <%s>\r\n"
			     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
		    m->unsubscribe_url);
	buf_adds(&b, "MIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=UTF-8\r\n"
		     "Content-Transfer-Encoding: base64\r\n"
		     "Auto-Submitted: auto-generated\r\n"
		     "\r\n");
	struct buf text = crlf_lines(r, m->body);
	add_base64_lines(&b, text.data, text.len);
	return buf_cstr(&b);
}

struct upload {
	const char *data;
	size_t len, off;
};

/* CURLOPT_READFUNCTION: the message, piece by piece. */
static size_t
read_upload(char *dst, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t len = size * n;

	if (len > u->len - u->off)
		len = u->len - u->off;
	memcpy(dst, u->data + u->off, len);
	u->off += len;
	return len;
}

/* The reason m cannot be sent as it is, or NULL: an address that is not
 * one, and CR or LF in a header's text (header injection) are refused. */
static const char *
mail_invalid(const struct mail *m)
{
	if (m->to == NULL || has_control(m->to) || !email_valid(m->to))
		return "the recipient address is not valid";
	if (m->subject == NULL || has_control(m->subject))
		return "the subject is empty or holds control characters";
	if (m->body == NULL)
		return "the message is too long";
	if (m->unsubscribe_url != NULL && (!http_url(m->unsubscribe_url) ||
	    strchr(m->unsubscribe_url, '>') != NULL))
		return "the unsubscribe link is not an http(s) URL";
	return NULL;
}

/* Sends m over SMTP; fills at->error on failure. */
static void
mail_send(struct req *r, const struct mail *m, struct attempt *at)
{
	const char *from = config.smtp_from;

	if (config.smtp_url[0] == '\0') {
		at->error = "e-mail is not configured on this server (CRM_SMTP_URL is empty)";
		log_error("e-mail cannot be sent: CRM_SMTP_URL is not set");
		return;
	}
	if (has_control(from) || !email_valid(from)) {
		at->error = "the sender address is not valid (CRM_SMTP_FROM)";
		log_error("e-mail cannot be sent: CRM_SMTP_FROM is not an e-mail address");
		return;
	}
	const char *msg = mail_message(r, m, from);
	struct upload u = {.data = msg, .len = strlen(msg)};
	struct curl_slist *rcpt = NULL;
	CURL *c = curl_start(at);

	slist_add(&rcpt, arena_printf(r->arena, "<%s>", m->to));
	curl_easy_setopt(c, CURLOPT_URL, config.smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, SMTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, arena_printf(r->arena, "<%s>", from));
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, slist_keep(r, rcpt));
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.len);
	at->error = curl_finish(r, at, curl_easy_perform(c));
}

static int
run_email(struct req *r, int64_t tid, const char *ref, bool last_try)
{
	struct attempt at = {.status = 0};
	struct mail m;

	db_begin(r, tid);
	PGresult *res = DB_EXEC(r, &stmt_email_request, DB_COMMIT, ref);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		return 0;	/* gone, or sent already */
	cJSON *j = request_parse(r, PQgetvalue(res, 0, 0));
	m = (struct mail){
		.to = member_str(j, "to", ADDRESS_MAX),
		.subject = member_str(j, "subject", SUBJECT_MAX),
		.body = member_str(j, "body", MAIL_BODY_MAX),
		.from_name = member_str(j, "from_name", FROM_NAME_MAX),
		.unsubscribe_url = member_str(j, "unsubscribe_url", URL_MAX),
	};
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
	if (cJSON_IsString(body) && body->valuestring[0] == '\0')
		m.body = "";	/* an empty body is a body */
	const char *invalid = j == NULL ? "the e-mail cannot be read" : mail_invalid(&m);
	if (invalid != NULL)
		at.error = invalid;
	else
		mail_send(r, &m, &at);

	const char *error = at.error != NULL ? attempt_error(r, &at) : NULL;
	db_begin(r, tid);
	if (DB_EXEC(r, &stmt_email_result, DB_COMMIT, ref, error,
		last_try || invalid != NULL ? "true" : "false") == NULL) {
		log_warn("e-mail %s of tenant %lld: could not record the attempt", ref,
		    (long long)tid);
		return -1;
	}
	if (error == NULL) {
		log_info("e-mail %s of tenant %lld: sent", ref, (long long)tid);
		return 0;
	}
	log_warn("e-mail %s of tenant %lld failed: %s", ref, (long long)tid, error);
	if (invalid != NULL)
		return 0;	/* recorded dead: nothing is left to send */
	return err_set(&r->err, ERR_DELIVERY_FAILED, error);
}

/* ---------------------------------------------------------------- entry */

int
deliver_run(struct req *r, const char *kind, int64_t tid, const char *ref, bool last_try)
{
	deliver_init();	/* no-op once crm-worker's main has called it */
	if (ref[0] == '\0' || strspn(ref, "0123456789") != strlen(ref) || strlen(ref) > 18)
		return err_set(&r->err, ERR_INTERNAL, "delivery reference is not an id");
	if (strcmp(kind, "deliver") == 0)
		return run_webhook(r, tid, ref, last_try);
	if (strcmp(kind, "email") == 0)
		return run_email(r, tid, ref, last_try);
	return err_set(&r->err, ERR_INTERNAL, "unknown delivery kind");
}
