"""What the inspection commands say: text and JSON rendering, and the status survey."""
