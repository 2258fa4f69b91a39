-- astrocyte.events: the public name of the event hooks and webhook
-- signatures (events.verify), implemented in astrocyte.observe.events.
return require "astrocyte.observe.events"
