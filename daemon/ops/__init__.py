"""Running Cove on a machine: doctor, the login service, launching the daemon from a client,
the network guard, the Host check and the port check."""
