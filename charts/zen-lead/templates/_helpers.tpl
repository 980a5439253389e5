{{/* Names, labels and the one list of managed namespaces every template agrees on. */}}

{{- define "zen-lead.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zen-lead.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects (ClusterRole, ClusterRoleBinding) carry the release namespace in their name,
so installations in two namespaces never collide. */}}
{{- define "zen-lead.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "zen-lead.fullname" .) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "zen-lead.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zen-lead.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "zen-lead.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "zen-lead.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: zen-lead
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "zen-lead.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "zen-lead.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "zen-lead.leaseName" -}}
{{- default (include "zen-lead.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* registry/repository:tag, or registry/repository@digest: a digest, when set, wins over the tag. An
empty registry leaves the repository as given (it then names its own registry). */}}
{{- define "zen-lead.image" -}}
{{- $name := .Values.image.repository -}}
{{- with .Values.image.registry -}}
{{- $name = printf "%s/%s" . $name -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $name .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $name (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the controller manages in namespaced mode: the release namespace first, then
watchNamespaces, without duplicates. One JSON list, so the Roles and the --namespace flags cannot
disagree. */}}
{{- define "zen-lead.namespaces" -}}
{{- $namespaces := list .Release.Namespace -}}
{{- range .Values.watchNamespaces -}}
{{- $namespaces = append $namespaces . -}}
{{- end -}}
{{- $namespaces | uniq | toJson -}}
{{- end -}}

{{/* The rules the controller needs in every namespace it manages (a Role there, or the ClusterRole in
cluster-wide mode): those the enabled components declare in the code, rendered into _rules.tpl by
deploy/render.py. docs/deployment.md explains each verb; tests/cluster/deploy proves they suffice. */}}
{{- define "zen-lead.managedRules" -}}
{{ include "zen-lead.rules.director" . }}
{{- if .Values.pools.enabled }}
{{ include "zen-lead.rules.pools" . }}
{{- if .Values.pools.podWrites }}
{{ include "zen-lead.rules.poolPodWrites" . }}
{{- end }}
{{- end }}
{{- if .Values.manualLocks.enabled }}
{{ include "zen-lead.rules.manuallocks" . }}
{{- end }}
{{- if .Values.api.enabled }}
{{ include "zen-lead.rules.api" . }}
{{- end }}
{{- end -}}
