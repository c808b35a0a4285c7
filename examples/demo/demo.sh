#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The libsoda demo: a landlord hosts three tenants' virtual servers on this
# machine and shows what protects whom: jails, the switch and its firewall,
# shares, freeze and dumps, Kernort (the IDS) at a server's port against a
# Lion worm attack, crash recovery and the tenants' blackbox.
# Everything happens in a temporary
# state directory that is removed at the end, even on failure.
#
#   examples/demo/demo.sh [BUILD-DIR]     (default: build)
set -eu

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
export SODA_MONITOR="$BUILD/soda-monitor"
export SODA_AGENT="$BUILD/soda-agent"
STATE=$(mktemp -d /tmp/soda-demo-XXXXXX)
# The switch lives in a namespace of its own, with no route out.
NETNS=soda-demo-$$
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
export SODA_NFT_PLUGIN="$BUILD/libsoda-nft.so"
SODACTL="$BUILD/sodactl --state-dir $STATE --netns $NETNS"
BLACKBOX="$BUILD/soda-blackbox"
HERE=$(cd "$(dirname "$0")" && pwd)

cleanup() {
	for s in web db cache; do
		$SODACTL destroy "$s" >/dev/null 2>&1 || true
	done
	$SODACTL recover >/dev/null 2>&1 || true
	$SODACTL network destroy lan --force >/dev/null 2>&1 || true
	ip netns del "$NETNS" 2>/dev/null || true
	rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. A guest image, built without mounting anything (mkfs.ext4 -d)"
run $SODACTL image build busybox
run $SODACTL image list

step "2. A switch (a bridge with no address for the host) and three tenants' servers on it; the web server gets a read-only share of its site and a blackbox"
run $SODACTL network create lan
mkdir -p "$STATE/site" "$STATE/tenant" "$STATE/tools"
# Lion-like attack traffic for step 6 (a static program the guests get
# through a read-only share).
cp "$BUILD/tests/network/liongen" "$STATE/tools/"
echo "<h1>tenant web's site</h1>" > "$STATE/site/index.html"
echo "   The web tenant makes its key pair (on its own machine; the host only ever sees the .pub):"
run $BLACKBOX keygen "$STATE/tenant/web"
run $SODACTL create web --memory 64 --share "$STATE/site:/var/www:ro" --share "$STATE/tools:/tools:ro" \
	--shares "cpu.weight=100 cpus=0" --nic lan --address 0:198.51.100.10/24 --label front \
	--blackbox "$STATE/tenant/web.pub" --ids-landlord-alerts --ids-rules "$HERE/../ids/lion-guest.rules"
run $SODACTL create db --memory 96 --share "$STATE/tools:/tools:ro" --shares "cpu.weight=300 cpus=0 pids.max=256" \
	--nic lan --address 0:198.51.100.20/24
run $SODACTL create cache --memory 32 --shares "cpu.max=20% memory.max=96MiB" \
	--nic lan --address 0:198.51.100.30/24
for s in web db cache; do
	t0=$(date +%s%N)
	$SODACTL start "$s"
	t1=$(date +%s%N)
	echo "   $s ready in $(( (t1 - t0) / 1000000 )) ms"
done
run $SODACTL list

step "3. Inside the guests"
run $SODACTL exec web 'hostname; uname -r; cat /var/www/index.html'
run $SODACTL exec db 'free -m | head -2'

step "4. The jail: on the host each guest is an unprivileged uid with no capabilities"
for s in web db cache; do
	pid=$($SODACTL info "$s" --json | sed -n 's/.*"guest_pid":\([0-9]*\).*/\1/p')
	printf '   %-6s pid %-7s %s  %s\n' "$s" "$pid" \
		"$(grep '^Uid:' /proc/"$pid"/status | tr -s '\t' ' ')" \
		"$(grep '^CapEff:' /proc/"$pid"/status | tr -s '\t' ' ')"
done
echo "   The web tenant tries to escape its share through hostfs:"
run $SODACTL exec web 'mkdir -p /esc && mount -t hostfs none /esc -o /../../.. && ls /esc && (cat /esc/etc/shadow || echo "   -> no /etc/shadow: hostfs shows the shares and nothing of the host")'
echo "   Without a share there is no hostfs at all:"
run $SODACTL exec db 'grep -c hostfs /proc/filesystems || echo "   -> hostfs absent"'

step "5. The firewall: default deny; the policy says who may connect to whom"
cat > "$STATE/lan.policy" <<'POLICY'
# web (group front) may reach db; cache may reach web; nobody reaches cache;
# db may reach web's DNS service (and, as it turns out, a backdoor port)
allow from group front to server db icmp
allow from server cache to group front icmp
allow from server db to group front udp port 53
allow from server db to group front tcp port 53, 60008
POLICY
run cat "$STATE/lan.policy"
run $SODACTL policy check lan "$STATE/lan.policy"
run $SODACTL policy apply lan "$STATE/lan.policy"
probe() { # FROM TO-IP: one ping
	if $SODACTL exec "$1" "ping -c 1 -W 1 $2 >/dev/null" >/dev/null 2>&1; then r=passes; else r=refused; fi
	printf '   %-5s -> %-15s %s\n' "$1" "$2" "$r"
}
probe web 198.51.100.20
probe db 198.51.100.10
probe cache 198.51.100.10
probe cache 198.51.100.20
echo "   cache pretends to be db (takes db's address), and tries again:"
$SODACTL exec cache 'ip addr add 198.51.100.20/24 dev eth0; ping -c 2 -W 1 -I 198.51.100.20 198.51.100.10 >/dev/null; ip addr del 198.51.100.20/24 dev eth0' >/dev/null 2>&1 || true
run sh -c "$SODACTL policy counters lan | cut -c1-120"
echo "   A bad policy is refused with its line and column, and the one in force stays:"
printf 'allow from server web to server db icmp\nallow from server web to server db tcp port 99999\n' > "$STATE/bad.policy"
$SODACTL policy apply lan "$STATE/bad.policy" || true
run $SODACTL policy show lan

step "6. Kernort, the IDS at the web server's port, against a Lion worm attack from a neighbour"
echo "   The IDS runs outside the guest, in a jailed process of its own, on the host side of"
echo "   web's switch port: even an intruder who owns web's kernel cannot blind it."
printf 'HOME_NET 198.51.100.10\n' > "$STATE/web.vars"
run $SODACTL ids enable web --rules "$HERE/../ids/lion.rules" --vars "$STATE/web.vars"
$SODACTL exec web '/tools/liongen serve 53 60 >/dev/null 2>&1 &' >/dev/null
echo "   A neighbour (db) sends an ordinary DNS query, then the Lion worm's BIND TSIG overflow:"
run $SODACTL exec db '/tools/liongen dns 198.51.100.10'
run $SODACTL exec db '/tools/liongen tsig-udp 198.51.100.10'
run $SODACTL exec db '/tools/liongen tsig-tcp 198.51.100.10'
$SODACTL exec db '/tools/liongen backdoor 198.51.100.10 60008' >/dev/null 2>&1 || true
sleep 1
run $SODACTL ids stats web
echo "   The alerts are sealed into web's blackbox (step 11); web's tenant let the landlord see"
echo "   their metadata, and no more:"
run sh -c "$SODACTL ids alerts web | cut -c1-160"

step "7. Kernort inside web: what the worm does once in, seen where the wire cannot see"
echo "   web runs Kernort in its guest too (rules on programs, files, sockets, logs: examples/ids/lion-guest.rules),"
echo "   in a locked guest whose root cannot blind it. The intruder (played here through sodactl exec) installs"
echo "   the worm's files, removes /etc/hosts.deny, reads /etc/shadow to send it out, opens a backdoor"
echo "   and runs the t0rn rootkit's log cleaner:"
$SODACTL exec web 'echo "ALL: ALL" > /etc/hosts.deny' >/dev/null
# The guest's alerts on the landlord's stream: "SID TIME-NS" per line.
guest_alerts() {
	$SODACTL ids alerts web --json | grep '"source":"guest"' |
		sed -n 's/.*"timestamp":"\([^"]*\)".*"sid":\([0-9]*\).*/\2 \1/p' |
		while read -r sid ts; do echo "$sid $(date -d "$ts" +%s%N)"; done
}
before=$(guest_alerts | wc -l)
steps=""
mark() { steps="$steps $(date +%s%N)"; }
echo "   The intruder types at web's console (recorded in web's blackbox, replayed in step 13):"
mark
(printf 'unset HISTFILE\nid; ls /dev\n'; sleep 1) | $SODACTL console web >/dev/null
sleep 0.5
mark
run $SODACTL exec web 'mkdir -p /dev/.lib && cp /bin/busybox /dev/.lib/1i0n; /dev/.lib/1i0n true 2>/dev/null; true'
sleep 0.3
mark
run $SODACTL exec web 'rm -f /etc/hosts.deny'
sleep 0.3
mark
run $SODACTL exec web 'cat /etc/shadow > /dev/null'
sleep 0.3
mark
run $SODACTL exec web 'nc -l -p 60008 >/dev/null 2>&1 &'
sleep 0.6
mark
run $SODACTL exec web 'cp /bin/busybox /dev/.lib/t0rns; /dev/.lib/t0rns true 2>/dev/null; true'
sleep 1
echo "   The landlord's view (metadata only; web's tenant allowed it), port and guest alike:"
run sh -c "$SODACTL ids alerts web | cut -c1-150"
# Each step's alerts, in order, within a second of the step.
new_alerts=$(guest_alerts | tail -n +$((before + 1)))
got=$(printf '%s\n' "$new_alerts" | cut -d' ' -f1 | tr '\n' ' ')
want="3000006 3000001 3000002 3000003 3000004 3000001 3000005 "
if [ "$got" != "$want" ]; then
	echo "   !! the guest's alerts were '$got', not '$want'"
	exit 1
fi
late=0
set -- $steps
i=0
for step_of in 1 2 3 4 5 6 6; do
	i=$((i + 1))
	eval "t_step=\${$step_of}"
	t_alert=$(printf '%s\n' "$new_alerts" | sed -n "${i}p" | cut -d' ' -f2)
	d=$(( (t_alert - t_step) / 1000000 ))
	[ "$d" -ge 0 ] && [ "$d" -le 1000 ] || { echo "   !! alert $i came ${d} ms after its step"; late=1; }
done
[ "$late" = 0 ] || exit 1
echo "   the guest's alerts came one per step, in the steps' order, each within a second of its step: $got"

step "8. Shares: web and db share CPU 0 at 1:3, cache is capped at 20 % of a CPU"
for s in web db cache; do
	$SODACTL exec "$s" '(while :; do :; done) >/dev/null 2>&1 &' >/dev/null
done
cpu() { $SODACTL stats --json "$1" | sed -n 's/.*"cpu_usec":\([0-9]*\).*/\1/p'; }
w0=$(cpu web); d0=$(cpu db); c0=$(cpu cache); sleep 3
w1=$(cpu web); d1=$(cpu db); c1=$(cpu cache)
echo "   over 3 s: web $(( (w1 - w0) / 10000 / 3 ))% of a CPU, db $(( (d1 - d0) / 10000 / 3 ))%, cache $(( (c1 - c0) / 10000 / 3 ))%"
run $SODACTL shares cache "cpu.max=60% memory.max=96MiB"
c0=$(cpu cache); sleep 2; c1=$(cpu cache)
echo "   cache after the live change: $(( (c1 - c0) / 10000 / 2 ))% of a CPU"
run $SODACTL stats

step "9. Freeze: the cache server's processes stop; thaw resumes them"
run $SODACTL freeze cache
run $SODACTL list
run $SODACTL thaw cache

step "10. Forensics: dump the db server (disk layer, facts, memory) while it runs"
$SODACTL exec db 'echo "order #42 paid" > /root/ledger && sync' >/dev/null
run $SODACTL dump db "$STATE/db-dump" --memory
run ls -l "$STATE/db-dump"
grep -c "order #42 paid" "$STATE/db-dump/disk.cow" >/dev/null && echo "   the ledger entry is in the dumped disk layer"

step "11. The blackbox: the web tenant's log is sealed inside the guest and kept by the host, which cannot read it"
run $SODACTL exec web 'printf "order %s accepted\n" 1001 > /dev/blackbox; logger -t shop "payment service up"'
echo "   An intruder takes the web server: kills every process it can and wipes the logs."
run $SODACTL exec web 'kill -9 -1 2>/dev/null; rm -rf /var/log; echo "   (intruder) done"'
run $SODACTL exec web 'printf "order %s accepted\n" 1002 > /dev/blackbox; printf "order %s shipped\n" 1002 | /soda/init log; /bin/busybox true'
echo "   The landlord proves the store intact and complete without any key:"
run $BLACKBOX verify "$STATE/blackbox/web"
grep -rqa "order 1001" "$STATE/blackbox/web" && echo "   !! plaintext in the store" || echo "   the host's copy holds no plaintext (grep 'order 1001' finds nothing)"
echo "   The tenant reads it with its secret key (orders, syslog and exec events, before and after the intrusion):"
run sh -c "$BLACKBOX read --key $STATE/tenant/web --type text,syslog,exec,snapshot,ids-alert $STATE/blackbox/web | cut -c1-110"

step "12. A crash: the db server's monitor is killed; the next look cleans up (every context recovers when it opens)"
mpid=$($SODACTL info db --json | sed -n 's/.*"monitor_pid":\([0-9]*\).*/\1/p')
run kill -9 "$mpid"
sleep 0.3
run $SODACTL recover
run $SODACTL list

step "13. Graceful stop of the others, and the servers are gone"
run $SODACTL stop web
run $SODACTL stop cache
run $SODACTL list
echo "   The web tenant reads what the intruder typed at the console:"
run sh -c "$BLACKBOX read --key $STATE/tenant/web --type console-in $STATE/blackbox/web 2>/dev/null | cut -c1-110"
echo "   and replays the console from its blackbox (20 times faster):"
$BLACKBOX replay --key "$STATE/tenant/web" --speed 20 --max-wait 0.2 "$STATE/blackbox/web" | tail -n 6 | cut -c1-100
echo
run $BLACKBOX export --key "$STATE/tenant/web" --format asciicast --output "$STATE/web.cast" "$STATE/blackbox/web"
echo "   $(wc -l < "$STATE/web.cast") asciicast v2 events in web.cast (asciinema play web.cast)"
echo
echo "Demo done; cleaning up $STATE."
