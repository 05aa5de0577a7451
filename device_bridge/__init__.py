"""The device bridge: MQTT telemetry in, commands out (aiomqtt lives only here)."""
