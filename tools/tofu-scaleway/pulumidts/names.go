package pulumidts

import (
	"strings"
	"unicode"
)

// The bridge names a Pulumi resource after its Terraform resource mechanically
// (scaleway_instance_server -> scaleway:index/instanceServer, now scaleway:instance/server),
// except where the provider's mapping (pulumi-scaleway's provider/resources.go) renamed a
// module. These tables undo those renames. They were checked against the bridge's own record
// of the mapping, provider/cmd/pulumi-resource-scaleway/bridge-metadata.json of pulumi-scaleway
// (v1.53.0, the last tag read); `scaleway-schema-gen -bridge-metadata` repeats the check.

// nameOverrides maps a mechanically derived name to the Terraform name, for whole names.
var nameOverrides = map[string]string{
	"scaleway_loadbalancer":            "scaleway_lb",
	"scaleway_database":                "scaleway_rdb_database",
	"scaleway_database_backup":         "scaleway_rdb_database_backup",
	"scaleway_object_item":             "scaleway_object",
	"scaleway_sdb_database":            "scaleway_sdb_sql_database",
	"scaleway_kubernetes_node_pool":    "scaleway_k8s_pool",
	"scaleway_datalab_datalab":         "scaleway_datalab",
	"scaleway_index_file_filesystem":   "scaleway_file_filesystem",
	"scaleway_observability_exporter":  "scaleway_cockpit_exporter",
	"scaleway_applesilicon_runner":     "scaleway_apple_silicon_runner",
	"scaleway_keymanager_key_material": "scaleway_key_manager_key_material",
}

// scalarListsOfOne are Terraform lists of one scalar (MaxItems: 1) that the bridge flattened
// into a single value, so the declarations show a string where Terraform wants a list. Only
// the fields a module of this repository uses are listed, each checked against the provider's
// documentation (docs/resources/lb.md: `ipam_ids = [scaleway_ipam_ip.ip01.id]`).
var scalarListsOfOne = map[string]bool{
	"scaleway_lb.private_network.ipam_ids": true,
}

// prefixRewrites maps a mechanically derived name prefix to the Terraform one; the longest
// matching prefix wins.
var prefixRewrites = map[string]string{
	"scaleway_loadbalancer_":  "scaleway_lb_",
	"scaleway_loadbalancers_": "scaleway_lb_",
	"scaleway_database_":      "scaleway_rdb_",
	"scaleway_databases_":     "scaleway_rdb_",
	"scaleway_kubernetes_":    "scaleway_k8s_",
	"scaleway_mongo_db_":      "scaleway_mongodb_",
	"scaleway_s2svpn_":        "scaleway_s2s_vpn_",
	"scaleway_network_":       "scaleway_vpc_",
	"scaleway_index_":         "scaleway_",
}

// TerraformName is the Terraform resource type a Pulumi resource was generated from.
func TerraformName(r *Resource) string {
	provider := r.Token[:strings.Index(r.Token, ":")]
	tok := r.Token
	for _, a := range r.Aliases {
		if strings.HasPrefix(a, provider+":index/") {
			tok = a
			break
		}
	}
	mod := tok[len(provider)+1 : strings.Index(tok, "/")]
	res := tok[strings.Index(tok, "/")+1 : strings.LastIndex(tok, ":")]
	name := provider + "_" + Snake(res)
	if mod != "index" {
		name = provider + "_" + mod + "_" + Snake(res)
	}
	if o, ok := nameOverrides[name]; ok {
		return o
	}
	best := ""
	for p := range prefixRewrites {
		if strings.HasPrefix(name, p) && len(p) > len(best) {
			best = p
		}
	}
	if best != "" {
		name = prefixRewrites[best] + strings.TrimPrefix(name, best)
	}
	return name
}

// Snake turns a camelCase Pulumi name into the snake_case Terraform name: sizeInGb -> size_in_gb.
func Snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Singular undoes the bridge's pluralisation of a list name: inbound_rules -> inbound_rule,
// policies -> policy, ip_addresses -> ip_address.
func Singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "shes"), strings.HasSuffix(s, "ches"),
		strings.HasSuffix(s, "xes"):
		return strings.TrimSuffix(s, "es")
	case strings.HasSuffix(s, "ss"):
		return s
	case strings.HasSuffix(s, "s"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}

// fieldRenames are the list fields whose Terraform name the singular/plural rule gets wrong
// (the bridge pluralises a list name only when it is singular, so a Pulumi plural may stand
// for either). Keys are the derived paths, values the Terraform names; every entry was read
// from the bridge metadata of pulumi-scaleway v1.53.0. Without the table the rule alone gets
// 250 of the 311 list fields that metadata records right.
var fieldRenames = map[string]string{
	"scaleway_apple_silicon_server.private_ip":                       "private_ips",
	"scaleway_autoscaling_instance_template.volume":                  "volumes",
	"scaleway_baremetal_server.ipv4s":                                "ipv4",
	"scaleway_baremetal_server.ipv6s":                                "ipv6",
	"scaleway_baremetal_server.option":                               "options",
	"scaleway_baremetal_server.private_ip":                           "private_ips",
	"scaleway_cockpit.push_urls":                                     "push_url",
	"scaleway_cockpit_alert_manager.contact_point":                   "contact_points",
	"scaleway_container.commands":                                    "command",
	"scaleway_datawarehouse_deployment.private_network.service":      "services",
	"scaleway_datawarehouse_deployment.public_networks":              "public_network",
	"scaleway_domain_record.geo_ip.match":                            "matches",
	"scaleway_domain_registration.administrative_contacts":           "administrative_contact",
	"scaleway_domain_registration.ds_records":                        "ds_record",
	"scaleway_domain_registration.owner_contact.extension_nls":       "extension_nl",
	"scaleway_domain_registration.technical_contacts":                "technical_contact",
	"scaleway_domain_zone.ns_defaults":                               "ns_default",
	"scaleway_domain_zone.ns_masters":                                "ns_master",
	"scaleway_edge_services_cache_stage.purge_request":               "purge_requests",
	"scaleway_edge_services_tls_stage.secret":                        "secrets",
	"scaleway_flexible_ip_mac_address.flexible_ip_ids_to_duplicates": "flexible_ip_ids_to_duplicate",
	"scaleway_inference_model.nodes_supports":                        "nodes_support",
	"scaleway_instance_image.root_volumes":                           "root_volume",
	"scaleway_instance_private_nic.private_ip":                       "private_ips",
	"scaleway_instance_server.filesystem":                            "filesystems",
	"scaleway_instance_server.private_ip":                            "private_ips",
	"scaleway_instance_server.public_ip":                             "public_ips",
	"scaleway_interlink_link.peer_bgp_configs":                       "peer_bgp_config",
	"scaleway_interlink_link.scw_bgp_configs":                        "scw_bgp_config",
	"scaleway_interlink_routing_policy.prefix_filter_ins":            "prefix_filter_in",
	"scaleway_interlink_routing_policy.prefix_filter_outs":           "prefix_filter_out",
	"scaleway_ipam_ip.resources":                                     "resource",
	"scaleway_job_definition.startup_commands":                       "startup_command",
	"scaleway_k8s_acl.acl_rule":                                      "acl_rules",
	"scaleway_k8s_cluster.kubeconfigs":                               "kubeconfig",
	"scaleway_k8s_cluster.open_id_connect_config.groups_claims":      "groups_claim",
	"scaleway_k8s_cluster.open_id_connect_config.required_claims":    "required_claim",
	"scaleway_k8s_pool.startup_taint":                                "startup_taints",
	"scaleway_k8s_pool.taint":                                        "taints",
	"scaleway_kafka_cluster.public_networks":                         "public_network",
	"scaleway_lb.private_network.static_configs":                     "static_config",
	"scaleway_lb_acl.match.http_filter_values":                       "http_filter_value",
	"scaleway_lb_acl.match.ip_subnets":                               "ip_subnet",
	"scaleway_lb_certificate.letsencrypt.subject_alternative_names":  "subject_alternative_name",
	"scaleway_lb_certificate.subject_alternative_names":              "subject_alternative_name",
	"scaleway_lb_frontend.acl.match.http_filter_values":              "http_filter_value",
	"scaleway_lb_frontend.acl.match.ip_subnets":                      "ip_subnet",
	"scaleway_mongodb_user.role":                                     "roles",
	"scaleway_rdb_acl.acl_rule":                                      "acl_rules",
	"scaleway_redis_cluster.private_ip":                              "private_ips",
	"scaleway_s2s_vpn_connection.bgp_session_ipv4s":                  "bgp_session_ipv4",
	"scaleway_s2s_vpn_connection.bgp_session_ipv6s":                  "bgp_session_ipv6",
	"scaleway_s2s_vpn_connection.esp_cipher":                         "esp_ciphers",
	"scaleway_s2s_vpn_connection.ikev2_cipher":                       "ikev2_ciphers",
	"scaleway_s2s_vpn_routing_policy.prefix_filter_ins":              "prefix_filter_in",
	"scaleway_s2s_vpn_routing_policy.prefix_filter_outs":             "prefix_filter_out",
	"scaleway_tem_domain.reputations":                                "reputation",
	"scaleway_vpc_acl.rule":                                          "rules",
	"scaleway_vpc_private_network.ipv6_subnet":                       "ipv6_subnets",
	"scaleway_vpc_public_gateway_dhcp.dns_searches":                  "dns_search",
	"scaleway_vpc_public_gateway_dhcp.dns_servers_overrides":         "dns_servers_override",
}
