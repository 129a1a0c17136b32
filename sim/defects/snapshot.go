package defects

// snapshotProfiles: filled in by the profiles of this file.
var snapshotProfiles []Profile
