-- astrocyte.http: the public name of the outbound HTTP client every provider
-- does its I/O through (implemented in astrocyte.net.http).
return require "astrocyte.net.http"
