#!/bin/sh
echo from-context "$@"
