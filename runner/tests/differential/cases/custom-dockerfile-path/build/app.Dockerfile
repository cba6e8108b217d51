FROM stageplan-test/busybox:1
COPY . /ctx/
