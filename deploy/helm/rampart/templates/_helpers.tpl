{{- define "rampart.name" -}}rampart{{- end -}}
{{- define "rampart.fullname" -}}{{ .Release.Name }}{{- end -}}
{{- define "rampart.labels" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "rampart.selector" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "rampart.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ end }}
{{- end -}}
{{- define "rampart.tlsSecret" -}}
{{- if .Values.certManager.enabled -}}{{ include "rampart.fullname" . }}-tls{{- else -}}{{ .Values.tlsSecretName }}{{- end -}}
{{- end -}}
