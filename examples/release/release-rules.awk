# Turns a release listing (PROJECT FROM TO OLD NEW per line) into make rules:
# one package and one verification per line, with their variables. Used by
# the Makefile; refuses a malformed line rather than guessing.
function die(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
    failed = 1
    exit 1
}
/^[ \t]*(#|$)/ { next }
{
    if (NF != 5) die("want 5 fields (PROJECT FROM TO OLD-IMAGE NEW-IMAGE), got " NF)
    project = $1; from = $2; to = $3; old = $4; new = $5
    if (project !~ /^[A-Za-z0-9._+-]+$/) die("project '" project "': use [A-Za-z0-9._+-]")
    if (from !~ /^[A-Za-z0-9._+-]+$/ || to !~ /^[A-Za-z0-9._+-]+$/)
        die("versions must be [A-Za-z0-9._+-] (they name the package file)")
    if (old ~ /[$:;=#%*?"'\\]/ || new ~ /[$:;=#%*?"'\\]/) die("an image path with a character make or the shell would interpret")
    name = "update-" from "-to-" to
    if (name in seen) die("a second " name " (first at line " seen[name] ")")
    seen[name] = FNR
    zip = out "/" name ".zip"
    json = out "/" name ".verify.json"
    printf "PACKAGES += %s\nVERIFIED += %s\n", zip, json
    printf "%s %s: PROJECT := %s\n%s %s: FROM := %s\n%s %s: TO := %s\n", zip, json, project, zip, json, from, zip, json, to
    printf "%s %s: OLD := %s\n%s %s: NEW := %s\n", zip, json, old, zip, json, new
    printf "%s: %s %s $(KEY)\n%s: %s $(PUB)\n\n", zip, old, new, json, old
}
END { if (!failed && NR == 0) { print "# empty listing" } }
