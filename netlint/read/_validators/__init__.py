"""fastjsonschema validators of netlint's schemas, generated ahead of time (see
``netlint.read.schema.GENERATED``): compiling one costs every run about 20 ms."""
