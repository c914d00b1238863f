# tracker-cron, the tracker's cleanup, every 15 minutes as the user "tracker" (it reads
# /etc/tracker/tracker.json through its group). It prints one line, e.g.
#   tracker-cron: removed 12 peers and 1 torrent in 0.04 s
# which logger hands to the journal: journalctl -t tracker-cron (/var/log/syslog exists
# only where rsyslog is installed). The [ -x ] keeps a removed (not purged) package quiet.
# Remove the PHP tracker's cron.php line when this one runs.
SHELL=/bin/sh
PATH=/usr/bin:/bin
*/15 * * * * tracker [ -x /usr/bin/tracker-cron ] && /usr/bin/tracker-cron --config /etc/tracker/tracker.json 2>&1 | logger -t tracker-cron
