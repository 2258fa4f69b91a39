-- Config schema of the static_policy access policy provider
-- (access_control.policy_provider_config); see astrocyte.config_check.
return { access_policies = {
  default = { "string", one_of = { "allow", "deny", "none" }, default = "none" },
  rules = { "list", items = {
    principal = { "string", required = true }, bank_id = { "string", required = true },
    permissions = { "list", items = "string" },   -- default ["*"]
    effect = { "string", one_of = { "allow", "deny" }, default = "allow" },
  } },
} }
