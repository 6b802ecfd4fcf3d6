#!/bin/sh
# run by the script task of view.yml: its output must appear in the pane as printed
echo "hello from a script: $1"
