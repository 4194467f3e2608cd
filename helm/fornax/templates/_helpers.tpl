{{/*
_helpers.tpl - names, labels and the parts every Fornax workload shares: the
container (flags, environment, probe, volumes), the pod spec around it, and
the etcd endpoints. Each component's template adds only what is its own.
*/}}

{{/* The release's base name: the release name, or <release>-fornax. */}}
{{- define "fornax.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: dict "root" $ "component" "ingester". */}}
{{- define "fornax.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. */}}
{{- define "fornax.labels" -}}
{{ include "fornax.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "fornax.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The etcd client endpoints (host:port), as a comma-separated string. */}}
{{- define "fornax.etcdEndpoints" -}}
{{- if .Values.etcd.enabled -}}
{{- $name := printf "%s-etcd" (include "fornax.fullname" .) -}}
{{- $eps := list -}}
{{- range $i := until (int .Values.etcd.replicas) -}}
{{- $eps = append $eps (printf "%s-%d.%s:2379" $name $i $name) -}}
{{- end -}}
{{- join "," $eps -}}
{{- else -}}
{{- required "etcd.externalEndpoints is required when etcd.enabled is false" (join "," .Values.etcd.externalEndpoints) -}}
{{- end -}}
{{- end -}}

{{/* fornax.yaml: the chart's settings, then .Values.config over them. */}}
{{- define "fornax.config" -}}
{{- $server := dict "http_listen_port" .Values.ports.http "grpc_listen_port" .Values.ports.grpc -}}
{{- $ring := dict "store" "etcd" "etcd" (dict "endpoints" (splitList "," (include "fornax.etcdEndpoints" .))) -}}
{{- $storage := dict "backend" .Values.storage.backend -}}
{{- if eq .Values.storage.backend "s3" -}}
{{- $s3 := dict "bucket_name" (required "storage.s3.bucketName is required with the s3 backend" .Values.storage.s3.bucketName) "endpoint" .Values.storage.s3.endpoint "region" .Values.storage.s3.region -}}
{{- if .Values.storage.s3.insecure -}}{{- $_ := set $s3 "insecure" true -}}{{- end -}}
{{- if .Values.storage.s3.forcePathStyle -}}{{- $_ := set $s3 "force_path_style" true -}}{{- end -}}
{{- $_ := set $storage "s3" $s3 -}}
{{- else if eq .Values.storage.backend "filesystem" -}}
{{- $_ := required "storage.filesystem.existingClaim (a ReadWriteMany claim) is required with the filesystem backend" .Values.storage.filesystem.existingClaim -}}
{{- $_ := set $storage "filesystem" (dict "dir" "/bucket") -}}
{{- else -}}
{{- fail (printf "storage.backend must be s3 or filesystem, not %q" .Values.storage.backend) -}}
{{- end -}}
{{- $cfg := dict "data_dir" "/data" "server" $server "ring" $ring "storage" $storage -}}
{{- toYaml (mustMergeOverwrite $cfg (deepCopy .Values.config)) -}}
{{- end -}}

{{/*
One Fornax container: dict "root" $ "component" "ingester" "values"
.Values.ingester "bucket" true ("bucket": the component opens the bucket, so
it gets the S3 keys or the shared volume).
*/}}
{{- define "fornax.container" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- name: {{ .component }}
  image: {{ include "fornax.image" $root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - -target={{ .component }}
    - -config.file=/etc/fornax/fornax.yaml
    - -ring.instance-id=$(POD_NAME)
    - -ring.instance-addr=$(POD_IP)
    {{- range concat $v.extraArgs .values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    {{- if and .bucket (eq $v.storage.backend "s3") $v.storage.s3.existingSecret }}
    - name: AWS_ACCESS_KEY_ID
      valueFrom:
        secretKeyRef:
          name: {{ $v.storage.s3.existingSecret }}
          key: {{ $v.storage.s3.accessKeyIdKey }}
    - name: AWS_SECRET_ACCESS_KEY
      valueFrom:
        secretKeyRef:
          name: {{ $v.storage.s3.existingSecret }}
          key: {{ $v.storage.s3.secretAccessKeyKey }}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: http
      containerPort: {{ $v.ports.http }}
    - name: grpc
      containerPort: {{ $v.ports.grpc }}
  # 503 until the instance is ACTIVE in its ring (and, for ingesters, the
  # WAL is replayed; for store-gateways, the first block sync is done).
  readinessProbe:
    httpGet:
      path: /ready
      port: http
    initialDelaySeconds: 5
    periodSeconds: 5
    timeoutSeconds: 2
  securityContext:
    {{- toYaml $v.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .values.resources | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/fornax
      readOnly: true
    - name: data
      mountPath: /data
    {{- if and .bucket (eq $v.storage.backend "filesystem") }}
    - name: bucket
      mountPath: /bucket
    {{- end }}
{{- end -}}

{{/*
The pod spec around it: dict "root" $ "component" ... "values" ... "bucket"
... "emptyData" (true: /data is an emptyDir, for the stateless services).
*/}}
{{- define "fornax.podSpec" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- include "fornax.affinity" . }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  {{- include "fornax.container" . | nindent 2 }}
volumes:
  - name: config
    configMap:
      name: {{ include "fornax.fullname" $root }}-config
  {{- if .emptyData }}
  - name: data
    emptyDir: {}
  {{- end }}
  {{- if and .bucket (eq $v.storage.backend "filesystem") }}
  - name: bucket
    persistentVolumeClaim:
      claimName: {{ $v.storage.filesystem.existingClaim }}
  {{- end }}
{{- end -}}

{{/* Pod anti-affinity by node: .values.podAntiAffinity soft, hard or none. */}}
{{- define "fornax.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "fornax.selectorLabels" . | fromYaml)) -}}
{{- if eq .values.podAntiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          {{- toYaml $term | nindent 10 }}
{{- else if eq .values.podAntiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      {{- toYaml (list $term) | nindent 6 }}
{{- else if ne .values.podAntiAffinity "none" }}
{{- fail (printf "podAntiAffinity must be soft, hard or none, not %q" .values.podAntiAffinity) }}
{{- end }}
{{- end -}}

{{/* Pod template metadata: labels, the config checksum (a changed
fornax.yaml rolls the pods), scrape annotations. */}}
{{- define "fornax.podMetadata" -}}
labels:
  {{- include "fornax.selectorLabels" . | nindent 2 }}
annotations:
  checksum/config: {{ include "fornax.config" .root | sha256sum }}
  {{- if .root.Values.prometheusAnnotations }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ .root.Values.ports.http | quote }}
  prometheus.io/path: /metrics
  {{- end }}
  {{- with .values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* A volumeClaimTemplate named data: .values.persistence. */}}
{{- define "fornax.dataClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- with .storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
