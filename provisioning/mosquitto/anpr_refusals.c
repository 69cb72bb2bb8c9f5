/*
 * Mosquitto 2 plugin: a unit may publish only under its own camera's topics, and when it
 * tries another's, the broker says so.
 *
 * Mosquitto refuses what the ACL file does not grant but tells nobody (it logs ACL denials
 * only at debug level, among every message). A unit publishing under another camera's
 * topics is either broken or stolen: the control room and the auditor must hear of it.
 * This plugin runs before the ACL file for every publish. For a client whose user name (its
 * certificate's name: the camera id) is not one of the service users, a publish outside
 * anpr/v1/<its own id>/ is refused here, logged at WARNING, and reported as a JSON message
 * on anpr/v1/security/refused-publish, which the central's ingest reads and records as a
 * security event. Everything else is left to the ACL file (this plugin never grants).
 *
 * Options (mosquitto.conf):
 *   plugin_opt_service_users anpr-central-ingest anpr-research anpr-control-room
 * Reports are limited to 20 per second; the count of those left out travels in the next.
 *
 * Built by `anpr-provision broker-plugin` (cc, Debian's mosquitto-dev headers).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define PREFIX "anpr/v1/"
#define REPORT_TOPIC "anpr/v1/security/refused-publish"
#define MAX_SERVICE_USERS 16
#define MAX_NAME 128
#define REPORTS_PER_SECOND 20

static mosquitto_plugin_id_t *plugin_id;
static char service_users[MAX_SERVICE_USERS][MAX_NAME];
static int service_user_count;
static time_t window_start;
static int reports_in_window;
static long reports_left_out;

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	(void)supported_version_count;
	(void)supported_versions;
	return 5;
}

static int is_service_user(const char *user)
{
	for (int i = 0; i < service_user_count; i++) {
		if (strcmp(user, service_users[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* JSON string content: our ids and topics are plain ASCII; anything else is replaced. */
static void json_text(char *out, size_t size, const char *in)
{
	size_t j = 0;
	for (size_t i = 0; in && in[i] && j + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
	}
	out[j] = '\0';
}

static void report(const char *client_id, const char *user, const char *topic)
{
	time_t now = time(NULL);
	if (now != window_start) {
		window_start = now;
		reports_in_window = 0;
	}
	if (reports_in_window >= REPORTS_PER_SECOND) {
		reports_left_out++;
		return;
	}
	reports_in_window++;
	char id[MAX_NAME], name[MAX_NAME], where[512], payload[1024];
	json_text(id, sizeof id, client_id);
	json_text(name, sizeof name, user);
	json_text(where, sizeof where, topic);
	int length = snprintf(payload, sizeof payload,
		"{\"client_id\": \"%s\", \"user\": \"%s\", \"topic\": \"%s\", \"left_out\": %ld}",
		id, name, where, reports_left_out);
	reports_left_out = 0;
	mosquitto_log_printf(MOSQ_LOG_WARNING,
		"ANPR refused publish: client %s (user %s) wrote to %s, outside its own topics",
		id, name, where);
	if (length > 0 && (size_t)length < sizeof payload) {
		mosquitto_broker_publish_copy(NULL, REPORT_TOPIC, length, payload, 1, false, NULL);
	}
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)userdata;
	struct mosquitto_evt_acl_check *check = event_data;
	if (check->access != MOSQ_ACL_WRITE) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	const char *user = mosquitto_client_username(check->client);
	if (user == NULL || is_service_user(user)) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	size_t prefix = strlen(PREFIX), own = strlen(user);
	const char *topic = check->topic;
	if (strncmp(topic, PREFIX, prefix) == 0 && strncmp(topic + prefix, user, own) == 0
			&& topic[prefix + own] == '/') {
		return MOSQ_ERR_PLUGIN_DEFER; /* its own subtree: the ACL file decides the kind */
	}
	report(mosquitto_client_id(check->client), user, topic);
	return MOSQ_ERR_ACL_DENIED;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	service_user_count = 0;
	for (int i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "service_users") != 0) {
			continue;
		}
		char copy[MAX_SERVICE_USERS * MAX_NAME];
		snprintf(copy, sizeof copy, "%s", options[i].value);
		for (char *name = strtok(copy, " ,"); name && service_user_count < MAX_SERVICE_USERS;
				name = strtok(NULL, " ,")) {
			snprintf(service_users[service_user_count++], MAX_NAME, "%s", name);
		}
	}
	if (service_user_count == 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
			"anpr_refusals: set plugin_opt_service_users (the central, research, control room)");
		return MOSQ_ERR_INVAL;
	}
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
}
