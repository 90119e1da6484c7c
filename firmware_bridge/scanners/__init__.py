"""Barcode scanners: USB HID keyboard-wedge (evdev) and USB-CDC serial.

Pure cores (``keymap.KeystrokeAssembler``, ``serial_lines.LineSplitter``) turn
key events or bytes into code texts; thin adapters (``hid.HidScanner``,
``serial_scanner.SerialScanner``) own the device, reconnect with backoff and
emit the same :class:`edge.codes.scan.ScanEvent` as the camera.
"""
