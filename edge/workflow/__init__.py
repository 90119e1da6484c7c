"""The receiving workflow as a pure state machine (see ``machine.step``)."""
